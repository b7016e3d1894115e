"""Ruby functions (ruby3.x) through the Invoke API, on the sandbox and the Docker backend.

Served by the host's Ruby with the project's own runtime client
(invocations/executor/runtimes/ruby/bootstrap.rb); what a function can observe follows AWS's
Ruby runtime: keyword-argument handlers, the context object, `Function<Class>` and
`Init<Class>` error documents, GEM_PATH and the load path.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from conftest import client_for, create_function, create_user, make_zip
from invocations.tests.helpers import invoke

pytestmark = [pytest.mark.live, pytest.mark.one_profile]

APP = """\
require 'json'
require 'logger'

STATE = { calls: 0 }
LOGGER = Logger.new($stdout)

def lambda_handler(event:, context:)
  STATE[:calls] += 1
  puts "ruby says #{event['name']}"
  puts "first line\\nsecond line"
  LOGGER.info("logged #{event['name']}")
  {
    calls: STATE[:calls],
    function_name: context.function_name,
    function_version: context.function_version,
    invoked_function_arn: context.invoked_function_arn,
    memory_limit_in_mb: context.memory_limit_in_mb,
    aws_request_id: context.aws_request_id,
    log_group_name: context.log_group_name,
    log_stream_name: context.log_stream_name,
    deadline_ms: context.deadline_ms,
    remaining: context.get_remaining_time_in_millis,
    identity: context.identity,
    client_context: context.client_context,
    trace: ENV['_X_AMZN_TRACE_ID'],
    env: %w[GREETING AWS_LAMBDA_FUNCTION_NAME _HANDLER AWS_EXECUTION_ENV LAMBDA_TASK_ROOT
            GEM_PATH RUBYLIB].to_h { |name| [name, ENV[name]] },
  }
end

def explode(event:, context:)
  puts 'about to raise'
  raise 'boom'
end

def typo(event:, context:)
  STATE[:calls] += 1
  undefined_thing
end

def sleepy(event:, context:)
  sleep 10
end

def an_object(event:, context:)
  Object.new
end

def not_a_number(event:, context:)
  { value: Float::NAN }
end

def plain_text(event:, context:)
  StringIO.new('plain text')
end

def broken_message(event:, context:)
  raise ArgumentError, "bad byte \\xFF".b
end
"""

RAISE_LINE = APP.splitlines().index("  raise 'boom'") + 1


@pytest.fixture(
    params=[
        pytest.param("sandbox", marks=pytest.mark.sandbox),
        pytest.param("docker", marks=pytest.mark.docker),
    ]
)
def rlam(request: pytest.FixtureRequest) -> Any:
    """A Lambda client for a fresh account, on each backend."""
    fixture = "functory" if request.param == "sandbox" else "functory_docker"
    server = request.getfixturevalue(fixture)
    return client_for(server, create_user(server))


def _ruby(
    lam: Any, name: str, handler: str, files: dict[str, str | bytes] | None = None, **kwargs: Any
) -> dict[str, Any]:
    return create_function(
        lam,
        name,
        Runtime=kwargs.pop("Runtime", "ruby3.3"),
        Handler=handler,
        Code={"ZipFile": make_zip(files or {"lambda_function.rb": APP})},
        **kwargs,
    )


def test_a_ruby_hello_world_answers_with_the_context_and_stays_warm(rlam):
    function = _ruby(
        rlam,
        "hello",
        "lambda_function.lambda_handler",
        Environment={"Variables": {"GREETING": "hi"}},
        MemorySize=256,
    )
    client_context = {"custom": {"tenant": "t1"}, "env": {"locale": "en"}}
    first = invoke(
        rlam,
        "hello",
        {"name": "Zoë ☃"},
        LogType="Tail",
        ClientContext=base64.b64encode(json.dumps(client_context).encode()).decode(),
    )
    body = first["Body"]
    assert first["StatusCode"] == 200 and "FunctionError" not in first
    assert body["calls"] == 1
    assert body["function_name"] == "hello"
    assert body["function_version"] == "$LATEST"
    assert body["invoked_function_arn"] == function["FunctionArn"]
    assert body["memory_limit_in_mb"] == "256"
    assert body["aws_request_id"] == first["ResponseMetadata"]["RequestId"]
    assert body["log_group_name"] == "/aws/lambda/hello"
    assert "/[$LATEST]" in body["log_stream_name"]
    assert 0 < body["remaining"] <= 3000
    assert body["deadline_ms"] > 0
    assert body["identity"] is None
    assert body["client_context"] == client_context
    assert body["trace"].startswith("Root=1-")
    assert body["env"] == {
        "GREETING": "hi",
        "AWS_LAMBDA_FUNCTION_NAME": "hello",
        "_HANDLER": "lambda_function.lambda_handler",
        "AWS_EXECUTION_ENV": "AWS_Lambda_ruby3.3",
        "LAMBDA_TASK_ROOT": "/var/task",
        "GEM_PATH": body["env"]["GEM_PATH"],
        "RUBYLIB": "/var/task:/opt/ruby/lib",
    }
    # As AWS sets it: the zip's bundle, then the layers' gems, then the runtime's own.
    assert body["env"]["GEM_PATH"].startswith(
        "/var/task/vendor/bundle/ruby/3.3.0:/opt/ruby/gems/3.3.0:"
    )
    log = first["Log"]
    assert "Init Duration" in log
    assert "\nruby says Zoë ☃\n" in log
    # Kernel#puts is one log event per call; a Logger record carries level and request id.
    assert "\nfirst line\rsecond line\n" in log
    assert f"INFO {body['aws_request_id']} -- : logged Zoë ☃" in log

    second = invoke(rlam, "hello", {"name": "bob"}, LogType="Tail")
    assert second["Body"]["calls"] == 2
    assert second["Body"]["trace"] != body["trace"]
    assert "Init Duration" not in second["Log"]


def test_a_raised_error_is_reported_in_the_shape_of_awss_ruby_runtime(rlam):
    _ruby(rlam, "explode", "lambda_function.explode")
    response = invoke(rlam, "explode", LogType="Tail")
    assert response["StatusCode"] == 200
    assert response["FunctionError"] == "Unhandled"
    assert response["Body"] == {
        "errorMessage": "boom",
        "errorType": "Function<RuntimeError>",
        "stackTrace": [f"/var/task/lambda_function.rb:{RAISE_LINE}:in `explode'"],
    }
    assert "about to raise" in response["Log"]
    assert "Error raised from handler method" in response["Log"]
    assert '"errorType": "Function<RuntimeError>"' in response["Log"]
    # An error the function raised leaves its environment running.
    assert "Init Duration" not in invoke(rlam, "explode", LogType="Tail")["Log"]


def test_a_name_error_is_critical_and_ends_the_environment(rlam):
    _ruby(rlam, "typo", "lambda_function.typo")
    response = invoke(rlam, "typo", LogType="Tail")
    assert response["FunctionError"] == "Unhandled"
    assert response["Body"]["errorType"] == "Function<NameError>"
    assert response["Body"]["errorMessage"].startswith(
        "undefined local variable or method `undefined_thing'"
    )
    assert response["Body"]["stackTrace"][0].startswith("/var/task/lambda_function.rb:")
    assert "Critical exception from handler" in response["Log"]
    # AWS's Ruby runtime exits after a critical exception: the next call starts cold.
    again = invoke(rlam, "typo", LogType="Tail")
    assert again["Body"]["errorType"] == "Function<NameError>"
    assert "Init Duration" in again["Log"]


def test_a_missing_handler_method_is_a_no_method_error(rlam):
    _ruby(rlam, "nomethod", "lambda_function.nothing_here")
    response = invoke(rlam, "nomethod")
    assert response["FunctionError"] == "Unhandled"
    assert response["Body"]["errorType"] == "Function<NoMethodError>"
    assert response["Body"]["errorMessage"].startswith("undefined method `nothing_here'")


def test_a_timeout_ends_a_ruby_function(rlam):
    _ruby(rlam, "sleepy", "lambda_function.sleepy", Timeout=1)
    response = invoke(rlam, "sleepy", LogType="Tail")
    assert response["FunctionError"] == "Unhandled"
    assert response["Body"]["errorType"] == "Sandbox.Timedout"
    assert "Task timed out after 1.00 seconds" in response["Log"]
    assert invoke(rlam, "sleepy")["Body"]["errorType"] == "Sandbox.Timedout"


def test_values_json_cannot_carry_are_handled_as_awss_runtime_does(rlam):
    # Every object has #to_json (its #to_s); a NaN is the generator's error, the function's.
    _ruby(rlam, "obj", "lambda_function.an_object")
    assert invoke(rlam, "obj")["Body"].startswith("#<Object:0x")
    _ruby(rlam, "nan", "lambda_function.not_a_number")
    response = invoke(rlam, "nan")
    assert response["FunctionError"] == "Unhandled"
    assert response["Body"]["errorType"] == "Function<JSON::GeneratorError>"


def test_an_io_result_is_sent_as_it_is_read(rlam):
    _ruby(rlam, "text", "lambda_function.plain_text")
    response = invoke(rlam, "text")
    assert "FunctionError" not in response
    assert response["Raw"] == b"plain text"


def test_an_error_message_that_is_not_utf8_is_reported_not_fatal(rlam):
    _ruby(rlam, "binary", "lambda_function.broken_message")
    response = invoke(rlam, "binary")
    assert response["Body"]["errorType"] == "Function<ArgumentError>"
    assert response["Body"]["errorMessage"] == "bad byte \ufffd"
    # A StandardError: the environment keeps serving.
    assert "Init Duration" not in invoke(rlam, "binary", LogType="Tail")["Log"]


def test_a_syntax_error_is_an_init_error(rlam):
    _ruby(
        rlam,
        "syntax",
        "lambda_function.lambda_handler",
        {"lambda_function.rb": "def lambda_handler(event:, context:)\n  if true\nend\n"},
    )
    response = invoke(rlam, "syntax", LogType="Tail")
    assert response["FunctionError"] == "Unhandled"
    assert response["Body"]["errorType"] == "Init<SyntaxError>"
    assert response["Body"]["errorMessage"].startswith("/var/task/lambda_function.rb:")
    assert "syntax error" in response["Body"]["errorMessage"]
    assert isinstance(response["Body"]["stackTrace"], list)
    assert "Init error when loading handler lambda_function.lambda_handler" in response["Log"]


def test_a_missing_handler_file_is_an_init_load_error(rlam):
    _ruby(rlam, "nofile", "missing.lambda_handler")
    response = invoke(rlam, "nofile")
    assert response["Body"]["errorType"] == "Init<LoadError>"
    assert response["Body"]["errorMessage"] == "cannot load such file -- missing"


def test_a_malformed_handler_is_an_init_argument_error(rlam):
    _ruby(rlam, "malformed", "lambda_function")
    response = invoke(rlam, "malformed")
    assert response["Body"]["errorType"] == "Init<ArgumentError>"
    assert response["Body"]["errorMessage"].startswith('Invalid handler ["lambda_function"]')


def test_a_module_class_method_handler_is_called_on_the_class(rlam):
    source = """\
module Handler
  class Process
    def self.handler(event:, context:)
      { kind: 'class method', got: event['v'], id: context.aws_request_id }
    end
  end
end
"""
    _ruby(rlam, "klass", "function.Handler::Process.handler", {"function.rb": source})
    response = invoke(rlam, "klass", {"v": 7})
    assert response["Body"] == {
        "kind": "class method",
        "got": 7,
        "id": response["ResponseMetadata"]["RequestId"],
    }


def test_a_layer_is_on_the_load_path_and_its_gems_on_the_gem_path(rlam):
    layer = rlam.publish_layer_version(
        LayerName="ruby-helpers",
        Content={
            "ZipFile": make_zip(
                {
                    "ruby/lib/shared_helper.rb": "SHARED = 'from a layer'\n",
                    **_gem_files("ruby/gems/3.2.0", "layergem", "LAYERGEM = 'layer gem'\n"),
                }
            )
        },
    )
    source = """\
require 'shared_helper'
require 'layergem'

def lambda_handler(event:, context:)
  { shared: SHARED, gem: LAYERGEM, spec: Gem.loaded_specs['layergem']&.version&.to_s }
end
"""
    _ruby(
        rlam,
        "layered",
        "lambda_function.lambda_handler",
        {"lambda_function.rb": source},
        Runtime="ruby3.2",
        Layers=[layer["LayerVersionArn"]],
    )
    assert invoke(rlam, "layered")["Body"] == {
        "shared": "from a layer",
        "gem": "layer gem",
        "spec": "1.2.3",
    }


def test_a_gem_vendored_into_the_zip_is_required_through_the_gem_path(rlam):
    source = """\
require 'tinygem'

def lambda_handler(event:, context:)
  { shout: TinyGem.shout(event['text']), from: $LOADED_FEATURES.grep(/tinygem/).first }
end
"""
    files = {
        "lambda_function.rb": source,
        **_gem_files(
            "vendor/bundle/ruby/3.3.0",
            "tinygem",
            "module TinyGem\n  def self.shout(text) = text.upcase + '!'\nend\n",
        ),
    }
    _ruby(rlam, "vendored", "lambda_function.lambda_handler", files)
    assert invoke(rlam, "vendored", {"text": "hi"})["Body"] == {
        "shout": "HI!",
        "from": "/var/task/vendor/bundle/ruby/3.3.0/gems/tinygem-1.2.3/lib/tinygem.rb",
    }


def _gem_files(root: str, name: str, code: str) -> dict[str, str | bytes]:
    """A gem as `gem install`/Bundler lays one out: its files and its specification."""
    spec = (
        "Gem::Specification.new do |s|\n"
        f"  s.name = '{name}'\n"
        "  s.version = '1.2.3'\n"
        "  s.summary = 'a test gem'\n"
        "  s.authors = ['functory']\n"
        f"  s.files = ['lib/{name}.rb']\n"
        "  s.require_paths = ['lib']\n"
        "end\n"
    )
    return {
        f"{root}/gems/{name}-1.2.3/lib/{name}.rb": code,
        f"{root}/specifications/{name}-1.2.3.gemspec": spec,
    }


def test_a_ruby_version_this_host_does_not_serve_is_an_invalid_runtime(rlam):
    # ruby4.0 is in the model, but the host's Ruby 3 does not stand in for it.
    _ruby(rlam, "ruby4", "lambda_function.lambda_handler", Runtime="ruby4.0")
    with pytest.raises(ClientError) as error:
        invoke(rlam, "ruby4")
    assert error.value.response["Error"]["Code"] == "InvalidRuntimeException"
    assert error.value.response["Error"]["Message"] == (
        "Runtime ruby4.0 is not supported by this executor."
    )
