package functory.lambda;

import com.amazonaws.services.lambda.runtime.LambdaLogger;
import com.amazonaws.services.lambda.runtime.LambdaRuntime;
import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.IOError;
import java.io.PrintStream;
import java.lang.reflect.Field;
import java.nio.charset.StandardCharsets;
import java.util.Collections;
import java.util.Map;

/** Functory's Java runtime: a Lambda Runtime API client that runs the handler in _HANDLER. */
public final class Main {
    private static final byte[] EMPTY = new byte[0];
    private static final String TRACE_PROPERTY = "com.amazonaws.xray.traceHeader";

    private Main() {}

    public static void main(String[] args) throws Exception {
        FileOutputStream stdout = new FileOutputStream(FileDescriptor.out);
        System.setOut(new PrintStream(new FileOutputStream(FileDescriptor.out), true, "UTF-8"));
        System.setErr(new PrintStream(new FileOutputStream(FileDescriptor.err), true, "UTF-8"));
        TextLogger logger = new TextLogger(stdout);
        install(logger);
        RuntimeApi api = new RuntimeApi(System.getenv("AWS_LAMBDA_RUNTIME_API"));
        String taskRoot = System.getenv().getOrDefault("LAMBDA_TASK_ROOT", "/var/task");
        String handlerName = System.getenv().getOrDefault("_HANDLER", "");
        ClassLoader function = Loaders.function(taskRoot);
        Thread.currentThread().setContextClassLoader(function);
        Handlers.Handler handler;
        try {
            handler = Handlers.load(handlerName, function, () -> Loaders.codec(function));
        } catch (Fault fault) {
            logger.error(fault.logText());
            post(api, RuntimeApi.PREFIX + "/init/error", fault.document(), "Runtime.BadFunctionCode");
            System.exit(1);
            return;
        }
        while (true) {
            RuntimeApi.Reply next = api.request("GET", RuntimeApi.PREFIX + "/invocation/next", EMPTY, null);
            String requestId = next.headers.getOrDefault("lambda-runtime-aws-request-id", "");
            String trace = next.headers.get("lambda-runtime-trace-id");
            if (trace != null) {
                System.setProperty(TRACE_PROPERTY, trace);
            } else {
                System.clearProperty(TRACE_PROPERTY);
            }
            logger.setRequestId(requestId);
            InvocationContext context = new InvocationContext(next.headers, logger);
            String path = RuntimeApi.PREFIX + "/invocation/" + requestId;
            byte[] payload;
            try {
                payload = handler.handle(next.body, context);
            } catch (Fault fault) {
                System.out.flush();
                logger.error(fault.logText());
                post(api, path + "/error", fault.document(), "Runtime.BadFunctionCode");
                if (fault.fatal) {
                    System.exit(1);
                }
                continue;
            } catch (Throwable t) {
                Fault.userFrames(t);
                System.out.flush();
                System.err.flush();
                logger.error(Fault.of(t, false).logText());
                post(api, path + "/error", Fault.documentOf(t), "Runtime.UserException");
                if ((t instanceof VirtualMachineError && !recoverable(t)) || t instanceof IOError) {
                    System.exit(1); // an InternalError and the like leave the JVM unusable
                }
                Thread.interrupted(); // a flag the handler left set must not reach the next one
                continue;
            }
            System.out.flush();
            System.err.flush();
            api.request("POST", path + "/response", payload, null);
            Thread.interrupted();
        }
    }

    /** A handler's OutOfMemoryError or StackOverflowError: its objects and frames are gone
     * once it has returned. AWS's runtime exits after one and its next event starts a new
     * JVM; here the executor could hand the next event to the exiting runtime (it answers
     * Runtime.ExitError then), so the JVM carries on, warm. */
    private static boolean recoverable(Throwable t) {
        return t instanceof OutOfMemoryError || t instanceof StackOverflowError;
    }

    private static void post(RuntimeApi api, String path, Map<String, Object> document, String errorType) throws Exception {
        api.request(
                "POST",
                path,
                MiniJson.write(document).getBytes(StandardCharsets.UTF_8),
                Map.of("Lambda-Runtime-Function-Error-Type", errorType, "Content-Type", "application/json"));
    }

    /** LambdaRuntime.getLogger() answers the runtime's logger from now on. */
    private static void install(LambdaLogger logger) {
        try {
            Field field = LambdaRuntime.class.getDeclaredField("logger");
            field.setAccessible(true);
            field.set(null, logger);
        } catch (ReflectiveOperationException e) {
            System.err.println("LambdaRuntime.getLogger() keeps writing to stdout: " + e);
        }
    }
}
