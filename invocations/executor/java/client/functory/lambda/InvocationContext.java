package functory.lambda;

import com.amazonaws.services.lambda.runtime.Client;
import com.amazonaws.services.lambda.runtime.ClientContext;
import com.amazonaws.services.lambda.runtime.CognitoIdentity;
import com.amazonaws.services.lambda.runtime.Context;
import com.amazonaws.services.lambda.runtime.LambdaLogger;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/** The Context of one invocation: its Runtime API headers and the function's variables. */
final class InvocationContext implements Context {
    private static final String FUNCTION_NAME = System.getenv("AWS_LAMBDA_FUNCTION_NAME");
    private static final String FUNCTION_VERSION = System.getenv("AWS_LAMBDA_FUNCTION_VERSION");
    private static final String LOG_GROUP = System.getenv("AWS_LAMBDA_LOG_GROUP_NAME");
    private static final String LOG_STREAM = System.getenv("AWS_LAMBDA_LOG_STREAM_NAME");
    private static final int MEMORY_MB = parseInt(System.getenv("AWS_LAMBDA_FUNCTION_MEMORY_SIZE"));

    private final String requestId;
    private final String functionArn;
    private final long deadlineMs;
    private final String traceId;
    private final CognitoIdentity identity;
    private final ClientContext clientContext;
    private final LambdaLogger logger;

    InvocationContext(Map<String, String> headers, LambdaLogger logger) {
        this.requestId = headers.getOrDefault("lambda-runtime-aws-request-id", "");
        this.functionArn = headers.getOrDefault("lambda-runtime-invoked-function-arn", "");
        this.deadlineMs = parseLong(headers.get("lambda-runtime-deadline-ms"));
        this.traceId = headers.get("lambda-runtime-trace-id");
        this.identity = identityFrom(headers.get("lambda-runtime-cognito-identity"));
        this.clientContext = clientContextFrom(headers.get("lambda-runtime-client-context"));
        this.logger = logger;
    }

    private static int parseInt(String value) {
        try {
            return value == null ? 0 : Integer.parseInt(value.trim());
        } catch (NumberFormatException e) {
            return 0;
        }
    }

    private static long parseLong(String value) {
        try {
            return value == null ? 0 : Long.parseLong(value.trim());
        } catch (NumberFormatException e) {
            return 0;
        }
    }

    private static Map<?, ?> object(String header) {
        if (header == null || header.isEmpty()) {
            return null;
        }
        try {
            Object parsed = MiniJson.parse(header);
            return parsed instanceof Map ? (Map<?, ?>) parsed : null;
        } catch (RuntimeException e) {
            return null;
        }
    }

    private static String text(Map<?, ?> map, String key) {
        Object value = map == null ? null : map.get(key);
        return value == null ? null : String.valueOf(value);
    }

    private static Map<String, String> strings(Object value) {
        if (!(value instanceof Map)) {
            return null;
        }
        Map<String, String> result = new LinkedHashMap<>();
        for (Map.Entry<?, ?> entry : ((Map<?, ?>) value).entrySet()) {
            result.put(String.valueOf(entry.getKey()), entry.getValue() == null ? null : String.valueOf(entry.getValue()));
        }
        return Collections.unmodifiableMap(result);
    }

    private static CognitoIdentity identityFrom(String header) {
        Map<?, ?> data = object(header);
        final String id = text(data, "cognitoIdentityId");
        final String pool = text(data, "cognitoIdentityPoolId");
        // AWS hands every invocation an identity object, empty without a Cognito caller.
        return new CognitoIdentity() {
            @Override
            public String getIdentityId() {
                return id;
            }

            @Override
            public String getIdentityPoolId() {
                return pool;
            }
        };
    }

    private static ClientContext clientContextFrom(String header) {
        Map<?, ?> data = object(header);
        if (data == null) {
            return null;
        }
        Object clientData = data.get("client");
        final Client client = clientData instanceof Map ? clientFrom((Map<?, ?>) clientData) : null;
        final Map<String, String> custom = strings(data.get("custom"));
        final Map<String, String> env = strings(data.get("env"));
        return new ClientContext() {
            @Override
            public Client getClient() {
                return client;
            }

            @Override
            public Map<String, String> getCustom() {
                return custom;
            }

            @Override
            public Map<String, String> getEnvironment() {
                return env;
            }
        };
    }

    private static Client clientFrom(final Map<?, ?> data) {
        return new Client() {
            @Override
            public String getInstallationId() {
                return text(data, "installation_id");
            }

            @Override
            public String getAppTitle() {
                return text(data, "app_title");
            }

            @Override
            public String getAppVersionName() {
                return text(data, "app_version_name");
            }

            @Override
            public String getAppVersionCode() {
                return text(data, "app_version_code");
            }

            @Override
            public String getAppPackageName() {
                return text(data, "app_package_name");
            }
        };
    }

    @Override
    public String getAwsRequestId() {
        return requestId;
    }

    @Override
    public String getLogGroupName() {
        return LOG_GROUP;
    }

    @Override
    public String getLogStreamName() {
        return LOG_STREAM;
    }

    @Override
    public String getFunctionName() {
        return FUNCTION_NAME;
    }

    @Override
    public String getFunctionVersion() {
        return FUNCTION_VERSION;
    }

    @Override
    public String getInvokedFunctionArn() {
        return functionArn;
    }

    @Override
    public CognitoIdentity getIdentity() {
        return identity;
    }

    @Override
    public ClientContext getClientContext() {
        return clientContext;
    }

    @Override
    public int getRemainingTimeInMillis() {
        long left = deadlineMs - System.currentTimeMillis();
        return left <= 0 ? 0 : (int) Math.min(Integer.MAX_VALUE, left);
    }

    @Override
    public int getMemoryLimitInMB() {
        return MEMORY_MB;
    }

    @Override
    public LambdaLogger getLogger() {
        return logger;
    }

    @Override
    public String getXrayTraceId() {
        return traceId;
    }

    @Override
    public String toString() {
        return "LambdaContext{requestId='" + requestId + "', functionName='" + FUNCTION_NAME
                + "', functionVersion='" + FUNCTION_VERSION + "', invokedFunctionArn='" + functionArn + "'}";
    }
}
