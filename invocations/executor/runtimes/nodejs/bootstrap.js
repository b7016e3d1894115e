// Functory's Node.js runtime: a Lambda Runtime API client for `file.export` handlers.
// Supports async handlers, callbacks, context.succeed/fail/done and
// callbackWaitsForEmptyEventLoop, CommonJS and ES modules, as the Lambda docs describe;
// response streaming with the `awslambda` global (streamifyResponse, HttpResponseStream).
"use strict";

const http = require("http");
const path = require("path");
const fs = require("fs");
const stream = require("stream");
const util = require("util");
const { pathToFileURL } = require("url");

const [API_HOST, API_PORT] = process.env.AWS_LAMBDA_RUNTIME_API.split(":");
const PREFIX = "/2018-06-01/runtime";
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
const TASK_ROOT = process.env.LAMBDA_TASK_ROOT || "/var/task";

let currentRequestId = undefined;

function request(method, urlPath, body, headers) {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : Buffer.from(body);
    const req = http.request(
      {
        host: API_HOST,
        port: Number(API_PORT),
        method,
        path: urlPath,
        agent,
        headers: Object.assign(
          { "Content-Length": data ? data.length : 0 },
          headers || {}
        ),
      },
      (res) => {
        const chunks = [];
        res.on("data", (c) => chunks.push(c));
        res.on("end", () =>
          resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) })
        );
      }
    );
    req.on("error", reject);
    if (data) req.write(data);
    req.end();
  });
}

// -- response streaming, as AWS's Node.js runtime offers it --------------------------------
const HANDLER_STREAMING = Symbol.for("aws.lambda.runtime.handler.streaming");
const HANDLER_HIGHWATERMARK = Symbol.for("aws.lambda.runtime.handler.streaming.highWaterMark");
const HTTP_INTEGRATION_TYPE = "application/vnd.awslambda.http-integration-response";

class HttpResponseStream {
  // The prelude (statusCode, headers, cookies) as JSON, then 8 null bytes, then the body.
  static from(underlyingStream, prelude) {
    underlyingStream.setContentType(HTTP_INTEGRATION_TYPE);
    underlyingStream.write(JSON.stringify(prelude || {}));
    underlyingStream.write(new Uint8Array(8));
    return underlyingStream;
  }
}

global.awslambda = {
  streamifyResponse(handler, options) {
    handler[HANDLER_STREAMING] = "response";
    if (options && Number.isInteger(options.highWaterMark)) {
      handler[HANDLER_HIGHWATERMARK] = options.highWaterMark;
    }
    return handler;
  },
  HttpResponseStream,
};

// The handler's response stream: a chunked POST to /response in streaming mode, each write
// sent as it is made; an error ends it with the error trailers.
function createResponseStream(requestId, highWaterMark) {
  const req = http.request({
    host: API_HOST,
    port: Number(API_PORT),
    method: "POST",
    path: `${PREFIX}/invocation/${requestId}/response`,
    agent,
    headers: {
      "Lambda-Runtime-Function-Response-Mode": "streaming",
      "Transfer-Encoding": "chunked",
      Trailer: "Lambda-Runtime-Function-Error-Type, Lambda-Runtime-Function-Error-Body",
      "Content-Type": "application/octet-stream",
    },
  });
  const answered = new Promise((resolve) => {
    req.on("response", (res) => {
      res.resume();
      res.on("end", resolve);
      res.on("error", resolve);
    });
    req.on("error", resolve);
  });
  let ended = false;
  let failure;
  const endRequest = (err) => {
    if (ended) return;
    ended = true;
    if (err !== undefined && err !== null) {
      const document = errorDocument(err);
      logError("Invoke Error", err);
      req.addTrailers({
        "Lambda-Runtime-Function-Error-Type": document.errorType,
        "Lambda-Runtime-Function-Error-Body": Buffer.from(JSON.stringify(document)).toString("base64"),
      });
    }
    req.end();
  };
  const options = {
    write(chunk, encoding, callback) {
      if (ended) return callback();
      req.write(chunk, () => callback());
    },
    final(callback) {
      endRequest(failure);
      callback();
    },
    destroy(err, callback) {
      endRequest(err || failure);
      callback(err);
    },
  };
  if (Number.isInteger(highWaterMark)) options.highWaterMark = highWaterMark;
  const responseStream = new stream.Writable(options);
  // A stream destroyed with an error (e.g. by pipeline) must not crash the runtime.
  responseStream.on("error", () => {});
  responseStream.setContentType = (type) => {
    if (!req.headersSent) req.setHeader("Content-Type", type);
  };
  const fail = (err) => {
    if (ended) return;
    failure = err;
    if (responseStream.destroyed) endRequest(err);
    else if (!responseStream.writableEnded) responseStream.end();
  };
  const finish = () => {
    if (!ended && !responseStream.destroyed && !responseStream.writableEnded) {
      responseStream.end();
    }
  };
  return { responseStream, answered, fail, finish };
}

async function runStreaming(handler, requestId, event, context) {
  const { responseStream, answered, fail, finish } = createResponseStream(
    requestId,
    handler[HANDLER_HIGHWATERMARK]
  );
  try {
    await handler(event, responseStream, context);
    finish();
  } catch (err) {
    fail(err === undefined || err === null ? "Error" : err);
  }
  await answered;
}

// -- logging: one event per call, as on Lambda ("\r" keeps multi-line messages together)
// With LoggingConfig's JSON format (AWS_LAMBDA_LOG_FORMAT), each call is one JSON record
// {timestamp, level, requestId, message} and calls below AWS_LAMBDA_LOG_LEVEL do nothing.
const LOG_LEVELS = ["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"];
let jsonLogs = false;

// An Error inside a record is written as AWS writes it: its type, message and stack lines.
function errorFields(_key, value) {
  if (value instanceof Error) {
    return Object.assign(
      {
        errorType: (value.constructor && value.constructor.name) || "UnknownError",
        errorMessage: value.message,
        stackTrace: typeof value.stack === "string" ? value.stack.split("\n") : value.stack,
      },
      value
    );
  }
  return value;
}

function jsonRecord(level, args) {
  const record = { timestamp: new Date().toISOString(), level, requestId: currentRequestId };
  if (args.length === 1) {
    record.message = args[0];
    try {
      return JSON.stringify(record, errorFields);
    } catch (_) {
      record.message = util.format(args[0]); // circular or BigInt: its printed form
      return JSON.stringify(record);
    }
  }
  record.message = util.format.apply(util, args);
  const error = args.find((arg) => arg instanceof Error);
  if (error) {
    record.errorType = (error.constructor && error.constructor.name) || "UnknownError";
    record.errorMessage = error.message;
    record.stackTrace = typeof error.stack === "string" ? error.stack.split("\n") : [];
  }
  return JSON.stringify(record);
}

function patchConsole() {
  jsonLogs = (process.env.AWS_LAMBDA_LOG_FORMAT || "").toUpperCase() === "JSON";
  const wanted = LOG_LEVELS.indexOf((process.env.AWS_LAMBDA_LOG_LEVEL || "").toUpperCase());
  const threshold = wanted < 0 ? 0 : wanted;
  const write = (level, args) => {
    let line;
    if (jsonLogs) {
      line = jsonRecord(level, args);
    } else {
      const stamp = new Date().toISOString();
      line = `${stamp}\t${currentRequestId || "undefined"}\t${level}\t${util.format.apply(util, args)}`;
    }
    process.stdout.write(`${line.replace(/\n/g, "\r")}\n`);
  };
  const method = (level) =>
    LOG_LEVELS.indexOf(level) >= threshold ? (...a) => write(level, a) : () => {};
  console.trace = method("TRACE");
  console.debug = method("DEBUG");
  console.info = method("INFO");
  console.log = console.info;
  console.warn = method("WARN");
  console.error = method("ERROR");
  console.fatal = (...a) => write("FATAL", a);
}

// The runtime's own error lines: "Invoke Error {...}" in Text, the error as a record in JSON.
function logError(prefix, err) {
  if (!jsonLogs) {
    console.error(prefix, JSON.stringify(errorDocument(err)));
    return;
  }
  if (err instanceof Error) {
    console.error(err);
    return;
  }
  const document = errorDocument(err);
  console.error({ errorType: document.errorType, errorMessage: document.errorMessage, stackTrace: [] });
}

function errorDocument(err) {
  if (err instanceof Error) {
    return {
      errorType: err.name || "Error",
      errorMessage: err.message,
      trace: (err.stack || "").split("\n"),
    };
  }
  if (typeof err === "object" && err !== null) {
    return { errorType: "object", errorMessage: JSON.stringify(err), trace: [] };
  }
  return { errorType: typeof err, errorMessage: String(err), trace: [] };
}

class UserCodeError extends Error {
  constructor(type, message) {
    super(message);
    this.name = type;
  }
}

// ES modules are resolved through NODE_PATH too, as on AWS's Node.js 18+ runtimes
// (node-path-hooks.mjs): registered only for an ES module handler, before its import.
let nodePathHooks = false;
function searchNodePathForImports() {
  const { register } = require("module");
  if (nodePathHooks || typeof register !== "function") {
    return;
  }
  nodePathHooks = true;
  register(pathToFileURL(path.join(__dirname, "node-path-hooks.mjs")).href, {
    data: { nodePath: process.env.NODE_PATH || "" },
  });
}

async function loadHandler(handlerString) {
  const dot = handlerString.lastIndexOf(".");
  if (dot < 0) {
    throw new UserCodeError("Runtime.MalformedHandlerName", `Bad handler ${handlerString}`);
  }
  const modulePath = handlerString.slice(0, dot);
  const exportPath = handlerString.slice(dot + 1);
  const base = path.resolve(TASK_ROOT, modulePath);
  let module;
  const candidates = [".js", ".mjs", ".cjs"].map((ext) => base + ext);
  const found = candidates.find((file) => fs.existsSync(file));
  try {
    if (!found) {
      // Let require produce Node's own "Cannot find module" message (it searches NODE_PATH).
      module = require(modulePath);
    } else if (found.endsWith(".mjs")) {
      searchNodePathForImports();
      module = await import(pathToFileURL(found).href);
    } else {
      try {
        module = require(found);
      } catch (err) {
        if (err && err.code === "ERR_REQUIRE_ESM") {
          searchNodePathForImports();
          module = await import(pathToFileURL(found).href);
        } else {
          throw err;
        }
      }
    }
  } catch (err) {
    if (err instanceof SyntaxError) {
      throw new UserCodeError("Runtime.UserCodeSyntaxError", `${err.name}: ${err.message}`);
    }
    if (err && (err.code === "MODULE_NOT_FOUND" || err.code === "ERR_MODULE_NOT_FOUND")) {
      throw new UserCodeError("Runtime.ImportModuleError", `Error: ${err.message}`);
    }
    throw err;
  }
  let handler = module;
  for (const part of exportPath.split(".")) {
    handler = handler == null ? undefined : handler[part];
  }
  if (handler === undefined && module && module.default) {
    handler = module.default[exportPath];
  }
  if (typeof handler !== "function") {
    throw new UserCodeError("Runtime.HandlerNotFound", `${handlerString} is undefined or not exported`);
  }
  return handler;
}

function makeContext(headers, finish) {
  const deadline = Number(headers["lambda-runtime-deadline-ms"] || 0);
  const context = {
    callbackWaitsForEmptyEventLoop: true,
    functionName: process.env.AWS_LAMBDA_FUNCTION_NAME,
    functionVersion: process.env.AWS_LAMBDA_FUNCTION_VERSION,
    invokedFunctionArn: headers["lambda-runtime-invoked-function-arn"],
    memoryLimitInMB: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
    awsRequestId: headers["lambda-runtime-aws-request-id"],
    logGroupName: process.env.AWS_LAMBDA_LOG_GROUP_NAME,
    logStreamName: process.env.AWS_LAMBDA_LOG_STREAM_NAME,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    succeed: (result) => finish(null, result, false),
    fail: (err) => finish(err == null ? "handled" : err, undefined, false),
    done: (err, result) => finish(err, result, false),
  };
  if (headers["lambda-runtime-client-context"]) {
    context.clientContext = JSON.parse(headers["lambda-runtime-client-context"]);
  }
  if (headers["lambda-runtime-cognito-identity"]) {
    context.identity = JSON.parse(headers["lambda-runtime-cognito-identity"]);
  }
  return context;
}

async function postResult(requestId, err, result) {
  if (err !== null && err !== undefined) {
    const document = errorDocument(err);
    logError("Invoke Error", err);
    await request(
      "POST",
      `${PREFIX}/invocation/${requestId}/error`,
      JSON.stringify(document),
      { "Lambda-Runtime-Function-Error-Type": document.errorType, "Content-Type": "application/json" }
    );
    return;
  }
  let body;
  try {
    body = result === undefined ? "null" : JSON.stringify(result);
  } catch (e) {
    const document = {
      errorType: "Runtime.MarshalError",
      errorMessage: `Unable to stringify response body: ${e.message}`,
      trace: [],
    };
    await request("POST", `${PREFIX}/invocation/${requestId}/error`, JSON.stringify(document), {
      "Lambda-Runtime-Function-Error-Type": "Runtime.MarshalError",
    });
    return;
  }
  await request("POST", `${PREFIX}/invocation/${requestId}/response`, body);
}

function runOnce(handler) {
  return new Promise((resolve) => {
    request("GET", `${PREFIX}/invocation/next`).then((next) => {
      const requestId = next.headers["lambda-runtime-aws-request-id"];
      currentRequestId = requestId;
      process.env._X_AMZN_TRACE_ID = next.headers["lambda-runtime-trace-id"] || "";
      let finished = false;
      let context;
      const finish = (err, result, fromCallback) => {
        if (finished) return;
        finished = true;
        const send = () => postResult(requestId, err, result).then(resolve, resolve);
        if (fromCallback && context.callbackWaitsForEmptyEventLoop) {
          // Respond only once the user's pending work is done, as Lambda does.
          process.once("beforeExit", send);
        } else {
          send();
        }
      };
      context = makeContext(next.headers, finish);
      let event;
      try {
        event = JSON.parse(next.body.toString() || "null");
      } catch (e) {
        finish(new UserCodeError("Runtime.UnmarshalError", e.message), undefined, false);
        return;
      }
      if (handler[HANDLER_STREAMING] === "response") {
        runStreaming(handler, requestId, event, context).then(resolve, resolve);
        return;
      }
      try {
        const callback = (err, result) => finish(err, result, true);
        const value = handler(event, context, callback);
        if (value && typeof value.then === "function") {
          value.then((r) => finish(null, r, false), (e) => finish(e || "Error", undefined, false));
        } else if (handler.length < 3 && value !== undefined) {
          finish(null, value, false);
        } else if (handler.length < 3) {
          // Non-async handler without a callback: like Lambda, answer null when idle.
          finish(null, null, true);
        }
      } catch (e) {
        finish(e, undefined, false);
      }
    }, (err) => {
      process.stderr.write(`Runtime API unreachable: ${err}\n`);
      process.exit(1);
    });
  });
}

// A standby environment: wait (runtime loaded, no user code) for our function.
async function awaitAssignment() {
  const response = await request("GET", `${PREFIX}/functory/assignment`);
  const variables = JSON.parse(response.body.toString()).env;
  delete process.env._FUNCTORY_STANDBY;
  Object.assign(process.env, variables);
  // The function's code was mounted over the empty /var/task this process started in.
  process.chdir(process.env.LAMBDA_TASK_ROOT || "/var/task");
  // Module resolution read NODE_PATH at startup; read it again.
  require("module").Module._initPaths();
}

async function main() {
  patchConsole();
  if (process.env._FUNCTORY_STANDBY) {
    await awaitAssignment();
    patchConsole(); // the function's log format and level, known only now
  }
  let handler;
  try {
    handler = await loadHandler(process.env._HANDLER);
  } catch (err) {
    const document = errorDocument(err);
    console.error(`${document.errorType}: ${document.errorMessage}`);
    await request("POST", `${PREFIX}/init/error`, JSON.stringify(document), {
      "Lambda-Runtime-Function-Error-Type": document.errorType,
    });
    process.exit(1);
  }
  process.on("uncaughtException", (err) => {
    logError("Uncaught Exception", err);
    process.exit(129);
  });
  process.on("unhandledRejection", (reason) => {
    logError("Unhandled Promise Rejection", reason);
    process.exit(128);
  });
  for (;;) {
    await runOnce(handler);
  }
}

main();
