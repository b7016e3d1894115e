"""Functory's Python runtime: a Lambda Runtime API client that runs ``module.function``.

It runs inside the sandbox as the environment's main process. Startup is kept lean (no
``http.client``) because every import is cold-start time. ``logging`` (which brings
``traceback``) is set up for every function: imported here, a standby environment has it
(about 8 ms) before its function is assigned, and it is the standard library's whatever
the function's package holds, as on AWS.
"""

import importlib
import json
import logging
import os
import socket
import sys
import time

API_HOST, _, API_PORT = os.environ["AWS_LAMBDA_RUNTIME_API"].partition(":")
CLONE_NEWUSER = 0x10000000
CLONE_NEWNS = 0x00020000
PREFIX = "/2018-06-01/runtime"


class RuntimeApi:
    """A minimal keep-alive HTTP/1.1 client for the Runtime API."""

    def __init__(self):
        self.sock = None
        self.buffer = b""

    def _connect(self):
        for _ in range(200):
            try:
                self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                # An address, not a name: getaddrinfo would cost ~1.7 ms of a cold start.
                self.sock.connect((API_HOST, int(API_PORT or 80)))
                self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                return
            except OSError:
                self.sock.close()
                self.sock = None
                time.sleep(0.01)
        raise SystemExit("cannot reach the Runtime API")

    def request(self, method, path, body=b"", headers=None):
        if self.sock is None:
            self._connect()
        head = f"{method} {path} HTTP/1.1\r\nHost: {API_HOST}\r\nContent-Length: {len(body)}\r\n"
        for name, value in (headers or {}).items():
            head += f"{name}: {value}\r\n"
        self.sock.sendall(head.encode("latin-1") + b"\r\n" + body)
        while b"\r\n\r\n" not in self.buffer:
            self._fill()
        raw_head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        lines = raw_head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        response_headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            response_headers[name.strip().lower()] = value.strip()
        length = int(response_headers.get("content-length", "0"))
        while len(self.buffer) < length:
            self._fill()
        payload, self.buffer = self.buffer[:length], self.buffer[length:]
        return status, response_headers, payload

    def _fill(self):
        chunk = self.sock.recv(1 << 20)
        if not chunk:
            raise SystemExit("the Runtime API closed the connection")
        self.buffer += chunk


class CognitoIdentity:
    def __init__(self, data):
        self.cognito_identity_id = data.get("cognitoIdentityId")
        self.cognito_identity_pool_id = data.get("cognitoIdentityPoolId")


class ClientContext:
    def __init__(self, data):
        self.client = data.get("client")
        self.custom = data.get("custom")
        self.env = data.get("env")


class LambdaContext:
    def __init__(self, request_id, deadline_ms, invoked_arn, client_context, identity):
        self.aws_request_id = request_id
        self.invoked_function_arn = invoked_arn
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME")
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION")
        self.memory_limit_in_mb = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME")
        self.client_context = ClientContext(client_context) if client_context else None
        self.identity = CognitoIdentity(identity or {})
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self):
        return max(0, self._deadline_ms - int(time.time() * 1000))

    def __repr__(self):
        return (
            f"LambdaContext([aws_request_id={self.aws_request_id},"
            f"log_group_name={self.log_group_name},log_stream_name={self.log_stream_name},"
            f"function_name={self.function_name},memory_limit_in_mb={self.memory_limit_in_mb},"
            f"function_version={self.function_version},"
            f"invoked_function_arn={self.invoked_function_arn}])"
        )


class HandlerError(Exception):
    def __init__(self, error_type, message):
        super().__init__(message)
        self.error_type = error_type
        self.message = message


def log_error(error_type, message, stack=None, request_id=""):
    """One log event per error: AWS joins the traceback's lines with carriage returns."""
    if JSON_LOGS:
        # AWS's JSON error record: second-precision time, no zone letter.
        record = {
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()),
            "level": "ERROR",
            "errorMessage": message,
            "errorType": error_type,
            "requestId": request_id,
            "stackTrace": stack or [],
        }
        sys.stdout.write(json.dumps(record, ensure_ascii=False) + "\n")
        sys.stdout.flush()
        return
    text = f"[ERROR] {error_type}: {message}"
    if stack:
        text += "\rTraceback (most recent call last):\r" + "\r".join(
            line.rstrip("\n").replace("\n", "\r") for line in stack
        )
    sys.stdout.write(text.replace("\n", "\r") + "\n")
    sys.stdout.flush()


def stack_of(exc):
    import traceback

    frames = traceback.extract_tb(exc.__traceback__)
    # Drop this file's own frames: the user sees their code, as on AWS.
    frames = [f for f in frames if f.filename != __file__]
    return traceback.format_list(frames)


def load_handler(handler):
    try:
        module_path, function_name = handler.rsplit(".", 1)
    except ValueError as exc:
        raise HandlerError(
            "Runtime.MalformedHandlerName", f"Bad handler '{handler}': {exc}"
        ) from None
    module_name = module_path.replace("/", ".")
    try:
        import importlib

        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise HandlerError(
            "Runtime.ImportModuleError", f"Unable to import module '{module_path}': {exc}"
        ) from exc
    except SyntaxError as exc:
        raise HandlerError(
            "Runtime.UserCodeSyntaxError", f"Syntax error in module '{module_path}': {exc}"
        ) from exc
    try:
        return getattr(module, function_name)
    except AttributeError:
        raise HandlerError(
            "Runtime.HandlerNotFound",
            f"Handler '{function_name}' missing on module '{module_path}'",
        ) from None


def setup_paths():
    here = os.path.dirname(os.path.abspath(__file__))
    if sys.path and os.path.abspath(sys.path[0]) == here:
        sys.path.pop(0)
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    sys.path[:0] = ["/var/task"]
    sys.path += [
        "/opt/python",
        f"/opt/python/lib/{version}/site-packages",
    ]
    # snapshot_restore_py, last: a function's own copy of the package is found first.
    sys.path.append(os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
    if sys.version_info >= (3, 9):  # what the pinned boto3 and urllib3 support
        # The runtime's boto3 (catalog.SDK_PYTHON_PATH), last: as on AWS, a copy in the
        # function's package or a layer is found first.
        sys.path.append("/var/runtime-sdk/python")


# Set from AWS_LAMBDA_LOG_FORMAT by setup_logging (after a standby's assignment).
JSON_LOGS = False
# LogRecord attributes that are not the user's ``extra`` fields.
_RECORD_FIELDS = frozenset(
    [
        "name",
        "msg",
        "args",
        "levelname",
        "levelno",
        "pathname",
        "filename",
        "module",
        "exc_info",
        "exc_text",
        "stack_info",
        "lineno",
        "funcName",
        "created",
        "msecs",
        "relativeCreated",
        "thread",
        "threadName",
        "processName",
        "process",
        "aws_request_id",
    ]
)


def json_formatter(logging):
    """A formatter writing one JSON record per ``logging`` call, with AWS's field names."""

    class JsonFormatter(logging.Formatter):
        def format(self, record):
            # AWS reports the standard level at or below the record's (35 -> WARNING).
            record.levelno = min(50, max(0, record.levelno)) // 10 * 10
            record.levelname = logging.getLevelName(record.levelno)
            moment = time.gmtime(record.created)
            millis = int(record.created * 1000) % 1000
            document = {
                "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S", moment) + f".{millis:03d}Z",
                "level": record.levelname,
                "message": record.getMessage(),
                "logger": record.name,
            }
            if record.exc_info:
                import traceback

                kind, value, trace = record.exc_info
                document["stackTrace"] = traceback.format_tb(trace)
                document["errorType"] = kind.__name__
                document["errorMessage"] = str(value)
            document["requestId"] = getattr(record, "aws_request_id", None)
            if record.exc_info:
                document["location"] = f"{record.pathname}:{record.funcName}:{record.lineno}"
            for key, value in record.__dict__.items():
                if key not in _RECORD_FIELDS and key not in document:
                    document[key] = value
            document = {key: value for key, value in document.items() if value is not None}
            return json.dumps(document, ensure_ascii=False, default=str)

    return JsonFormatter()


def setup_logging():
    global JSON_LOGS
    JSON_LOGS = os.environ.get("AWS_LAMBDA_LOG_FORMAT", "").upper() == "JSON"

    class RequestIdFilter(logging.Filter):
        request_id = ""

        def filter(self, record):
            record.aws_request_id = RequestIdFilter.request_id
            return True

    class LambdaHandler(logging.StreamHandler):
        def emit(self, record):
            try:
                message = self.format(record).replace("\n", "\r")
                self.stream.write(message + "\n")
                self.flush()
            except Exception:
                self.handleError(record)

    handler = LambdaHandler(sys.stdout)
    handler.addFilter(RequestIdFilter())
    if JSON_LOGS:
        handler.setFormatter(json_formatter(logging))
    else:
        formatter = logging.Formatter(
            "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s",
            "%Y-%m-%dT%H:%M:%S",
        )
        formatter.converter = time.gmtime
        handler.setFormatter(formatter)
    root = logging.getLogger()
    root.addHandler(handler)
    # The application log level, as AWS sets it: TRACE is DEBUG to Python's logging.
    level = os.environ.get("AWS_LAMBDA_LOG_LEVEL", "").upper()
    level = "DEBUG" if level == "TRACE" else level
    if level in logging._nameToLevel:
        root.setLevel(level)
    return RequestIdFilter


def await_assignment(api):
    """A standby environment: wait (runtime loaded, no user code) for our function."""
    _status, _headers, body = api.request("GET", f"{PREFIX}/functory/assignment")
    variables = json.loads(body)["env"]
    os.environ.pop("_FUNCTORY_STANDBY", None)
    os.environ.update(variables)
    # The function's code was mounted over the empty /var/task this process started in.
    os.chdir(os.environ.get("LAMBDA_TASK_ROOT", "/var/task"))
    importlib.invalidate_caches()
    # What the interpreter read from the environment at startup, applied now.
    for entry in reversed([p for p in variables.get("PYTHONPATH", "").split(":") if p]):
        sys.path.insert(1, entry)
    time.tzset()


def main():
    sys.stdout.reconfigure(line_buffering=True)
    sys.stderr.reconfigure(line_buffering=True)
    setup_paths()
    api = RuntimeApi()
    if os.environ.get("_FUNCTORY_STANDBY"):
        await_assignment(api)
    # After the assignment: a standby learns the function's log format only then.
    request_ids = setup_logging()
    try:
        handler = load_handler(os.environ["_HANDLER"])
    except HandlerError as exc:
        log_error(exc.error_type, exc.message, stack_of(exc) if exc.__cause__ else None)
        report_init_error(api, exc.error_type, exc.message, [])
        return 1
    except Exception as exc:
        stack = stack_of(exc)
        log_error(type(exc).__name__, str(exc), stack)
        report_init_error(api, type(exc).__name__, str(exc), stack)
        return 1
    if os.environ.get("_FUNCTORY_TEMPLATE"):
        api = serve_as_template(api, os.environ["_FUNCTORY_TEMPLATE"])
    while True:
        _status, headers, body = api.request("GET", f"{PREFIX}/invocation/next")
        request_id = headers.get("lambda-runtime-aws-request-id", "")
        request_ids.request_id = request_id
        os.environ["_X_AMZN_TRACE_ID"] = headers.get("lambda-runtime-trace-id", "")
        client_context = headers.get("lambda-runtime-client-context")
        identity = headers.get("lambda-runtime-cognito-identity")
        context = LambdaContext(
            request_id,
            int(headers.get("lambda-runtime-deadline-ms", "0")),
            headers.get("lambda-runtime-invoked-function-arn", ""),
            json.loads(client_context) if client_context else None,
            json.loads(identity) if identity else None,
        )
        try:
            event = json.loads(body) if body else None
        except ValueError as exc:
            post_error(
                api, request_id, "Runtime.UnmarshalError", f"Unable to unmarshal input: {exc}", []
            )
            continue
        try:
            result = handler(event, context)
        except Exception as exc:
            stack = stack_of(exc)
            log_error(type(exc).__name__, str(exc), stack, request_id)
            post_error(api, request_id, type(exc).__name__, str(exc), stack)
            continue
        try:
            payload = json.dumps(result).encode()
        except (TypeError, ValueError) as exc:
            message = f"Unable to marshal response: {exc}"
            log_error("Runtime.MarshalError", message, None, request_id)
            post_error(api, request_id, "Runtime.MarshalError", message, [])
            continue
        sys.stdout.flush()
        api.request("POST", f"{PREFIX}/invocation/{request_id}/response", payload)


def serve_as_template(api, address):
    """SnapStart: stay initialised and fork an environment whenever the executor asks.

    Returns only in a forked environment, with a client of that environment's own Runtime
    API. The executor gives each one its own uid, cgroup, /tmp and Runtime API while it
    waits between its user namespace being made and its credentials being changed.
    """
    import ctypes
    import random  # noqa: F401  (loaded here, not in every fork)
    import signal

    import snapshot_restore_py

    for func, args, kwargs in snapshot_restore_py.get_before_snapshot():
        func(*args, **kwargs)
    sys.stdout.flush()
    sys.stderr.flush()
    executor = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    for _ in range(500):  # the executor binds it once the sandbox has started
        try:
            executor.connect("\0" + address)
            break
        except ConnectionRefusedError:
            time.sleep(0.01)

    def reaped(_signum, _frame):
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if not pid:
                return
            code = os.waitstatus_to_exitcode(status)
            executor.send(json.dumps({"exited": pid, "code": code}).encode())

    signal.signal(signal.SIGCHLD, reaped)
    libc = ctypes.CDLL(None, use_errno=True)  # loaded here, not in every fork
    import gc

    # The init's objects out of the collector's reach: its passes would write to (and so
    # copy) the pages every fork shares with the template.
    gc.freeze()
    executor.send(b'{"ready": true}')
    while True:
        message, fds, _flags, _address = socket.recv_fds(executor, 256, 2)
        if not message or len(fds) != 2:
            os._exit(0)  # the executor let go of this template
        pid = os.fork()
        if pid == 0:
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            executor.close()
            return become_environment(api, libc, *fds)
        for fd in fds:
            os.close(fd)


def become_environment(api, libc, output, control):
    """A forked environment: isolated by the executor, then set up like a fresh one."""
    import ctypes
    import random

    import snapshot_restore_py

    executor = socket.socket(fileno=control)
    if libc.unshare(CLONE_NEWUSER | CLONE_NEWNS) != 0:
        executor.send(json.dumps({"error": os.strerror(ctypes.get_errno())}).encode())
        os._exit(1)
    executor.send(json.dumps({"pid": os.getpid()}).encode())
    document = json.loads(executor.recv(1 << 20) or b"{}")
    if "uid" not in document:
        os._exit(1)
    os.setgroups([])
    os.setresgid(document["gid"], document["gid"], document["gid"])
    os.setresuid(document["uid"], document["uid"], document["uid"])
    drop_capabilities(libc)
    filter_syscalls(libc, bytes.fromhex(document["seccomp"]))
    os.dup2(output, 1)
    os.dup2(output, 2)
    os.close(output)
    executor.close()
    if api.sock is not None:
        api.sock.close()  # the template's connection to its own Runtime API
    global API_HOST, API_PORT
    API_HOST, _, API_PORT = document["env"]["AWS_LAMBDA_RUNTIME_API"].partition(":")
    os.environ.pop("_FUNCTORY_TEMPLATE", None)
    os.environ.update(document["env"])
    random.seed()  # the template's state would repeat in every environment
    for func, args, kwargs in reversed(snapshot_restore_py.get_after_restore()):
        func(*args, **kwargs)
    return RuntimeApi()


def drop_capabilities(libc):
    """Those the new user namespace gave (they reach nothing the filter lets through)."""
    import ctypes

    header = (ctypes.c_uint32 * 2)(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3, this thread
    data = (ctypes.c_uint32 * 6)()
    if libc.capset(header, data) != 0:
        os._exit(1)


def filter_syscalls(libc, program):
    """The executor's filter for every environment, stacked on the template's laxer one."""
    import ctypes

    class SockFprog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_char_p)]

    prog = SockFprog(len(program) // 8, program)
    if libc.prctl(22, 2, ctypes.byref(prog), 0, 0) != 0:  # PR_SET_SECCOMP, MODE_FILTER
        os._exit(1)


def error_document(error_type, message, stack, request_id=None):
    document = {"errorMessage": message, "errorType": error_type}
    if request_id is not None:
        document["requestId"] = request_id
    document["stackTrace"] = stack
    return json.dumps(document).encode()


def post_error(api, request_id, error_type, message, stack):
    sys.stdout.flush()
    api.request(
        "POST",
        f"{PREFIX}/invocation/{request_id}/error",
        error_document(error_type, message, stack, request_id),
        {"Lambda-Runtime-Function-Error-Type": error_type, "Content-Type": "application/json"},
    )


def report_init_error(api, error_type, message, stack):
    sys.stdout.flush()
    api.request(
        "POST",
        f"{PREFIX}/init/error",
        error_document(error_type, message, stack),
        {"Lambda-Runtime-Function-Error-Type": error_type, "Content-Type": "application/json"},
    )


if __name__ == "__main__":
    sys.exit(main())
