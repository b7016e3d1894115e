"""Java functions, compiled here with javac against the platform's interface jar, through
the Invoke API on both backends. A JVM's cold start is slow: each function serves several
assertions."""

from __future__ import annotations

import base64
import io
import json
import re
import subprocess
import zipfile
from pathlib import Path
from typing import Any

import pytest

from conftest import client_for, create_function, create_user
from invocations.executor import catalog, javaruntime
from invocations.tests.helpers import invoke

pytestmark = [pytest.mark.live, pytest.mark.one_profile]

HELLO = """package example;

import com.amazonaws.services.lambda.runtime.Context;
import com.amazonaws.services.lambda.runtime.LambdaRuntime;
import com.amazonaws.services.lambda.runtime.RequestHandler;
import com.amazonaws.services.lambda.runtime.logging.LogLevel;
import java.nio.charset.Charset;
import java.util.LinkedHashMap;
import java.util.Map;

public class Hello implements RequestHandler<Map<String, Object>, Map<String, Object>> {
    private static int calls;

    @Override
    public Map<String, Object> handleRequest(Map<String, Object> event, Context context) {
        calls++;
        if (event.containsKey("fail")) {
            fail(String.valueOf(event.get("fail")));
        }
        if (event.containsKey("hoard")) {
            java.util.List<long[]> hoard = new java.util.ArrayList<>();
            while (true) {
                hoard.add(new long[1 << 20]);
            }
        }
        if (event.containsKey("sleep")) {
            try {
                Thread.sleep(((Number) event.get("sleep")).longValue());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        System.out.println("java says " + event.get("name"));
        context.getLogger().log("through the logger\\nsecond line");
        LambdaRuntime.getLogger().log("leveled", LogLevel.WARN);
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("calls", calls);
        out.put("requestId", context.getAwsRequestId());
        out.put("functionName", context.getFunctionName());
        out.put("functionVersion", context.getFunctionVersion());
        out.put("arn", context.getInvokedFunctionArn());
        out.put("memory", context.getMemoryLimitInMB());
        out.put("remaining", context.getRemainingTimeInMillis());
        out.put("logGroup", context.getLogGroupName());
        out.put("logStream", context.getLogStreamName());
        out.put("identity", context.getIdentity() != null);
        out.put("clientContext", context.getClientContext());
        out.put("greeting", System.getenv("GREETING"));
        out.put("handler", System.getenv("_HANDLER"));
        out.put("executionEnv", System.getenv("AWS_EXECUTION_ENV"));
        out.put("helper", libpkg.Helper.shout("lib"));
        out.put("shared", layerpkg.Shared.origin());
        out.put("charset", Charset.defaultCharset().name());
        out.put("heapMb", Runtime.getRuntime().maxMemory() / (1024 * 1024));
        return out;
    }

    private static void fail(String message) {
        throw new IllegalStateException(message, new java.io.IOException("root cause"));
    }
}
"""

POJO = """package example;

import com.amazonaws.services.lambda.runtime.Context;

public class Pojo {
    public static class Person {
        private String name;
        private int age;

        public String getName() { return name; }
        public void setName(String name) { this.name = name; }
        public int getAge() { return age; }
        public void setAge(int age) { this.age = age; }
    }

    public static class Greeting {
        private String message;
        private boolean adult;
        private String nickname;

        public String getMessage() { return message; }
        public void setMessage(String message) { this.message = message; }
        public boolean isAdult() { return adult; }
        public void setAdult(boolean adult) { this.adult = adult; }
        public String getNickname() { return nickname; }
    }

    public Greeting greet(Person person, Context context) {
        Greeting greeting = new Greeting();
        greeting.setMessage("Hello, " + person.getName() + " from " + context.getFunctionName());
        greeting.setAdult(person.getAge() >= 18);
        return greeting;
    }
}
"""

STREAM = """package example;

import com.amazonaws.services.lambda.runtime.Context;
import com.amazonaws.services.lambda.runtime.RequestStreamHandler;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;

public class Stream implements RequestStreamHandler {
    @Override
    public void handleRequest(InputStream input, OutputStream output, Context context)
            throws IOException {
        String event = new String(input.readAllBytes(), StandardCharsets.UTF_8);
        String reply = "{\\"echo\\":" + event + ",\\"fn\\":\\"" + context.getFunctionName()
                + "\\",\\"runtime\\":" + visible("functory.lambda.Main")
                + ",\\"jackson\\":" + visible("com.fasterxml.jackson.databind.ObjectMapper") + "}";
        output.write(reply.getBytes(StandardCharsets.UTF_8));
    }

    private static boolean visible(String name) {
        try {
            Class.forName(name, false, Stream.class.getClassLoader());
            return true;
        } catch (ClassNotFoundException e) {
            return false;
        }
    }
}
"""

BAD_INIT = """package example;

import com.amazonaws.services.lambda.runtime.Context;
import com.amazonaws.services.lambda.runtime.RequestHandler;

public class BadInit implements RequestHandler<String, String> {
    static {
        if (Boolean.TRUE) {
            throw new IllegalStateException("no configuration");
        }
    }

    @Override
    public String handleRequest(String input, Context context) {
        return input;
    }
}
"""

# A stand-in for aws-lambda-java-events' SQSEvent (no Maven here): its bean is "records",
# the event's key "Records", as in AWS's library.
SQS_EVENT = """package com.amazonaws.services.lambda.runtime.events;

import java.util.List;

public class SQSEvent {
    private List<SQSMessage> records;

    public List<SQSMessage> getRecords() { return records; }
    public void setRecords(List<SQSMessage> records) { this.records = records; }

    public static class SQSMessage {
        private String messageId;
        private String eventSourceArn;
        private String body;

        public String getMessageId() { return messageId; }
        public void setMessageId(String messageId) { this.messageId = messageId; }
        public String getEventSourceArn() { return eventSourceArn; }
        public void setEventSourceArn(String arn) { this.eventSourceArn = arn; }
        public String getBody() { return body; }
        public void setBody(String body) { this.body = body; }
    }
}
"""

QUEUE = """package example;

import com.amazonaws.services.lambda.runtime.Context;
import com.amazonaws.services.lambda.runtime.events.SQSEvent;

public class Queue {
    public String handle(SQSEvent event, Context context) {
        SQSEvent.SQSMessage message = event.getRecords().get(0);
        return message.getMessageId() + " " + message.getEventSourceArn() + " " + message.getBody();
    }
}
"""

HELPER = """package libpkg;

public class Helper {
    public static String shout(String text) {
        return text.toUpperCase() + "!";
    }
}
"""

SHARED = """package layerpkg;

public class Shared {
    public static String origin() {
        return "from a layer";
    }
}
"""

SOURCES = {
    "example/Hello.java": HELLO,
    "example/Pojo.java": POJO,
    "example/Stream.java": STREAM,
    "example/BadInit.java": BAD_INIT,
    "example/Queue.java": QUEUE,
    "com/amazonaws/services/lambda/runtime/events/SQSEvent.java": SQS_EVENT,
    "libpkg/Helper.java": HELPER,
    "layerpkg/Shared.java": SHARED,
}


def _line(source: str, text: str) -> int:
    return next(n for n, line in enumerate(source.splitlines(), 1) if text in line)


def _jar(classes: Path, package: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted((classes / package).glob("*.class")):
            archive.write(path, path.relative_to(classes).as_posix())
    return buffer.getvalue()


def _zip(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


@pytest.fixture(scope="session")
def java_packages(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """The function's zip (classes at its root, a helper in lib/), and a layer's zip (a jar
    in java/lib/), compiled against the platform's aws-lambda-java-core.jar."""
    lib = javaruntime.ensure_built()
    compiler = javaruntime.javac()
    if lib is None or compiler is None or "17" not in catalog.java_binaries():
        pytest.fail("the Java runtime cannot be built on this host (setup installs the JDK)")
    root = tmp_path_factory.mktemp("java")
    for name, text in SOURCES.items():
        (root / "src" / name).parent.mkdir(parents=True, exist_ok=True)
        (root / "src" / name).write_text(text)
    classes = root / "classes"
    subprocess.run(
        [
            compiler,
            "--release",
            "17",
            "-classpath",
            str(lib / "aws-lambda-java-core.jar"),
            "-d",
            str(classes),
            *(str(root / "src" / name) for name in SOURCES),
        ],
        check=True,
    )
    function = {
        path.relative_to(classes).as_posix(): path.read_bytes()
        for path in sorted((classes / "example").glob("*.class"))
    }
    function["lib/helper.jar"] = _jar(classes, "libpkg")
    function["lib/events.jar"] = _jar(classes, "com/amazonaws/services/lambda/runtime/events")
    # Most function jars bundle aws-lambda-java-core: the platform's classes are used.
    function["lib/aws-lambda-java-core.jar"] = (lib / "aws-lambda-java-core.jar").read_bytes()
    return {
        "function": _zip(function),
        "layer": _zip({"java/lib/shared.jar": _jar(classes, "layerpkg")}),
    }


def _hello(lam: Any, packages: dict[str, bytes], name: str, **config: Any) -> None:
    layer = lam.publish_layer_version(
        LayerName=f"{name}-shared", Content={"ZipFile": packages["layer"]}
    )
    create_function(
        lam,
        name,
        Runtime="java17",
        Handler="example.Hello",
        MemorySize=256,
        Timeout=4,
        Layers=[layer["LayerVersionArn"]],
        Environment={"Variables": {"GREETING": "hi"}},
        Code={"ZipFile": packages["function"]},
        **config,
    )


def _check_hello(lam: Any, name: str, account_id: str) -> None:
    """Context, environment, class path, logs, warm reuse, the error shape, then a timeout."""
    first = invoke(lam, name, {"name": "ada"}, LogType="Tail")
    body = first["Body"]
    assert first["StatusCode"] == 200 and "FunctionError" not in first
    assert body["calls"] == 1
    assert body["requestId"] == first["ResponseMetadata"]["RequestId"]
    assert body["functionName"] == name and body["functionVersion"] == "$LATEST"
    assert body["arn"] == f"arn:aws:lambda:us-east-1:{account_id}:function:{name}"
    assert body["memory"] == 256
    assert 0 < body["remaining"] <= 4000
    assert body["logGroup"] == f"/aws/lambda/{name}"
    assert body["logStream"].startswith(tuple("0123456789")) and "[$LATEST]" in body["logStream"]
    # No client context: null, and AWS's serializer leaves null entries out of maps too.
    assert body["identity"] is True and "clientContext" not in body
    assert body["greeting"] == "hi" and body["handler"] == "example.Hello"
    assert body["executionEnv"] == "AWS_Lambda_java17"
    assert body["helper"] == "LIB!" and body["shared"] == "from a layer"
    assert body["charset"] == "UTF-8"
    # -XX:MaxHeapSize at 85 % of MemorySize, as AWS sizes it.
    assert 200 <= body["heapMb"] <= 218
    log = first["Log"]
    assert "java says ada" in log
    assert "through the logger\rsecond line" in log  # one log event
    assert "[WARN] leveled" in log
    assert "Init Duration" in log

    client_context = {
        "client": {"installation_id": "i-1", "app_title": "Notes"},
        "custom": {"tier": "gold"},
        "env": {"platform": "Android"},
    }
    second = invoke(
        lam,
        name,
        {"name": "bob"},
        ClientContext=base64.b64encode(json.dumps(client_context).encode()).decode(),
    )["Body"]
    assert second["calls"] == 2  # warm: statics kept
    assert second["clientContext"] == {
        "client": {"installationId": "i-1", "appTitle": "Notes"},
        "custom": {"tier": "gold"},
        "environment": {"platform": "Android"},
    }

    failed = invoke(lam, name, {"fail": "went wrong"}, LogType="Tail")
    assert failed["FunctionError"] == "Unhandled"
    frames = [
        f"example.Hello.fail(Hello.java:{_line(HELLO, 'throw new IllegalStateException')})",
        f"example.Hello.handleRequest(Hello.java:{_line(HELLO, 'fail(String.valueOf')})",
        # The bridge method RequestHandler's erasure calls, at the class's line.
        f"example.Hello.handleRequest(Hello.java:{_line(HELLO, 'public class Hello')})",
    ]
    assert failed["Body"] == {
        "errorMessage": "went wrong",
        "errorType": "java.lang.IllegalStateException",
        "stackTrace": frames,
        "cause": {
            "errorMessage": "root cause",
            "errorType": "java.io.IOException",
            "stackTrace": frames,
        },
    }
    assert "went wrong: java.lang.IllegalStateException\r" in failed["Log"]
    assert "Caused by: java.io.IOException: root cause" in failed["Log"]
    # The environment survived its function's exception.
    assert invoke(lam, name, {"name": "cy"})["Body"]["calls"] == 4

    # The heap's limit comes before the environment's memory: an OutOfMemoryError, reported,
    # after which the JVM serves on (its hoard collected).
    exhausted = invoke(lam, name, {"hoard": True})
    assert exhausted["FunctionError"] == "Unhandled"
    assert exhausted["Body"]["errorType"] == "java.lang.OutOfMemoryError"
    assert exhausted["Body"]["errorMessage"] == "Java heap space"
    assert invoke(lam, name, {"name": "dee"})["Body"]["calls"] == 6

    timed_out = invoke(lam, name, {"sleep": 20000})
    assert timed_out["FunctionError"] == "Unhandled"
    assert timed_out["Body"]["errorType"] == "Sandbox.Timedout"
    assert timed_out["Body"]["errorMessage"].endswith("Task timed out after 4.00 seconds")
    assert invoke(lam, name)["Body"]["calls"] == 1  # a new environment, again


def _check_stream_and_faults(lam: Any, packages: dict[str, bytes]) -> None:
    create_function(
        lam,
        "java-stream",
        Runtime="java17",
        Handler="example.Stream",
        Code={"ZipFile": packages["function"]},
    )
    echoed = invoke(lam, "java-stream", {"raw": [1, 2]})
    # The function sees neither the runtime's classes nor its Jackson (its own would win).
    assert echoed["Body"] == {
        "echo": {"raw": [1, 2]},
        "fn": "java-stream",
        "runtime": False,
        "jackson": False,
    }

    create_function(
        lam,
        "java-missing",
        Runtime="java17",
        Handler="example.Missing",
        Code={"ZipFile": packages["function"]},
    )
    missing = invoke(lam, "java-missing", LogType="Tail")
    assert missing["FunctionError"] == "Unhandled"
    assert missing["Body"] == {
        "errorMessage": "Class not found: example.Missing",
        "errorType": "java.lang.ClassNotFoundException",
    }
    assert "java.lang.ClassNotFoundException: example.Missing" in missing["Log"]


@pytest.mark.sandbox
def test_a_java_request_handler_runs_warm_with_context_env_lib_and_layer_jars(
    lam, credentials, java_packages
):
    _hello(lam, java_packages, "java-hello")
    _check_hello(lam, "java-hello", credentials.account_id)


@pytest.mark.sandbox
def test_java_method_handlers_convert_pojos_and_aws_event_classes(lam, java_packages):
    create_function(
        lam,
        "java-pojo",
        Runtime="java17",
        Handler="example.Pojo::greet",
        Code={"ZipFile": java_packages["function"]},
    )
    response = invoke(lam, "java-pojo", {"name": "Ada", "age": 36, "unknown": True})
    # Unknown properties are ignored, null ones left out, booleans named as beans name them.
    assert response["Body"] == {"message": "Hello, Ada from java-pojo", "adult": True}

    create_function(
        lam,
        "java-queue",
        Runtime="java17",
        Handler="example.Queue::handle",
        Code={"ZipFile": java_packages["function"]},
    )
    sqs = {
        "Records": [
            {
                "messageId": "m-1",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:q",
                "body": "hi",
            }
        ]
    }
    assert invoke(lam, "java-queue", sqs)["Body"] == "m-1 arn:aws:sqs:us-east-1:123456789012:q hi"

    unparsable = invoke(lam, "java-pojo", {"name": "Ada", "age": "old"})
    assert unparsable["FunctionError"] == "Unhandled"
    body = unparsable["Body"]
    assert body["errorType"] == "java.lang.RuntimeException"
    assert body["errorMessage"] == "An error occurred during JSON parsing"
    assert body["stackTrace"] == []
    assert body["cause"]["errorType"].startswith("com.fasterxml.jackson.databind.")


@pytest.mark.sandbox
def test_the_consoles_java_blueprint_runs(lam):
    classes = javaruntime.blueprint_files()
    create_function(
        lam,
        "java-blueprint",
        Runtime="java17",
        Handler="example.Hello::handleRequest",
        Code={"ZipFile": _zip(classes)},
        # What LoggingConfig's JSON format sets: the logger writes AWS's JSON records.
        Environment={"Variables": {"AWS_LAMBDA_LOG_FORMAT": "JSON"}},
    )
    response = invoke(lam, "java-blueprint", {"key1": "value1"}, LogType="Tail")
    assert response["Body"] == {"statusCode": 200, "body": '"Hello from Lambda!"'}
    line = next(x for x in response["Log"].splitlines() if "Hello from Functory!" in x)
    record = json.loads(line[line.index("{") :])
    assert record == {
        "timestamp": record["timestamp"],
        "message": "Hello from Functory! {key1=value1}",
        "level": "UNDEFINED",
        "AWSRequestId": response["ResponseMetadata"]["RequestId"],
    }
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", record["timestamp"])


@pytest.mark.sandbox
def test_java_stream_handlers_run_and_a_missing_class_fails_as_on_aws(lam, java_packages):
    _check_stream_and_faults(lam, java_packages)


@pytest.mark.sandbox
def test_a_java_class_whose_initialiser_throws_is_an_init_error(lam, java_packages):
    create_function(
        lam,
        "java-bad-init",
        Runtime="java17",
        Handler="example.BadInit",
        Code={"ZipFile": java_packages["function"]},
    )
    response = invoke(lam, "java-bad-init", "x", LogType="Tail")
    assert response["FunctionError"] == "Unhandled"
    assert response["Body"] == {
        "errorMessage": "Error loading class example.BadInit",
        "errorType": "java.lang.ExceptionInInitializerError",
    }
    assert "Caused by: java.lang.IllegalStateException: no configuration" in response["Log"]


@pytest.fixture
def dlam(functory_docker):
    return client_for(functory_docker, create_user(functory_docker))


@pytest.mark.docker
def test_java_functions_run_the_same_in_containers(functory_docker, dlam, java_packages):
    _hello(dlam, java_packages, "java-hello")
    arn = dlam.get_function(FunctionName="java-hello")["Configuration"]["FunctionArn"]
    _check_hello(dlam, "java-hello", arn.split(":")[4])
    _check_stream_and_faults(dlam, java_packages)
