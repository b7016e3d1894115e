package functory.lambda;

import com.amazonaws.services.lambda.runtime.LambdaLogger;
import com.amazonaws.services.lambda.runtime.logging.LogLevel;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.LinkedHashMap;
import java.util.Map;

/** LambdaLogger: one log event per call. The executor reads stdout line by line, so an
 * event's own line breaks travel as carriage returns (as the Python runtime's do). With
 * LoggingConfig's JSON format (AWS_LAMBDA_LOG_FORMAT) each event is AWS's JSON record. */
final class TextLogger implements LambdaLogger {
    private static final DateTimeFormatter TIMESTAMP =
            DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH:mm:ss.SSS'Z'").withZone(ZoneOffset.UTC);

    private final OutputStream out;
    private final LogLevel minimum;
    private final boolean json;
    private volatile String requestId;

    TextLogger(OutputStream out) {
        this.out = out;
        this.json = "JSON".equalsIgnoreCase(System.getenv("AWS_LAMBDA_LOG_FORMAT"));
        LogLevel level = LogLevel.UNDEFINED;
        String configured = System.getenv("AWS_LAMBDA_LOG_LEVEL");
        if (configured != null && !configured.isEmpty()) {
            try {
                level = LogLevel.fromString(configured);
            } catch (IllegalArgumentException e) {
                level = LogLevel.UNDEFINED;
            }
        }
        this.minimum = level;
    }

    void setRequestId(String requestId) {
        this.requestId = requestId;
    }

    /** The runtime's own report of an error: a plain event, or an ERROR record in JSON. */
    void error(String text) {
        if (json) {
            log(text, LogLevel.ERROR);
        } else {
            emit(text.getBytes(StandardCharsets.UTF_8));
        }
    }

    private boolean enabled(LogLevel level) {
        // Messages without a level are never filtered, as on AWS.
        return level == null || level == LogLevel.UNDEFINED || level.ordinal() >= minimum.ordinal();
    }

    @Override
    public void log(String message) {
        log(message, LogLevel.UNDEFINED);
    }

    @Override
    public void log(byte[] message) {
        log(message, LogLevel.UNDEFINED);
    }

    @Override
    public void log(String message, LogLevel level) {
        if (!enabled(level)) {
            return;
        }
        LogLevel known = level == null ? LogLevel.UNDEFINED : level;
        String text = String.valueOf(message);
        if (json) {
            Map<String, Object> record = new LinkedHashMap<>();
            record.put("timestamp", TIMESTAMP.format(Instant.now()));
            record.put("message", text);
            record.put("level", known.name());
            if (requestId != null) {
                record.put("AWSRequestId", requestId);
            }
            text = MiniJson.write(record);
        } else if (known != LogLevel.UNDEFINED) {
            text = "[" + known + "] " + text;
        }
        emit(text.getBytes(StandardCharsets.UTF_8));
    }

    @Override
    public void log(byte[] message, LogLevel level) {
        if (enabled(level) && message != null) {
            emit(message.clone());
        }
    }

    void emit(byte[] bytes) {
        int length = bytes.length;
        if (length > 0 && bytes[length - 1] == '\n') {
            length--;
        }
        for (int i = 0; i < length; i++) {
            if (bytes[i] == '\n') {
                bytes[i] = '\r';
            }
        }
        synchronized (out) {
            try {
                System.out.flush();
                out.write(bytes, 0, length);
                out.write('\n');
                out.flush();
            } catch (IOException e) {
                // stdout gone: the environment is going away
            }
        }
    }
}
