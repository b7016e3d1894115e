package functory.lambda;

import com.amazonaws.services.lambda.runtime.LambdaLogger;
import com.amazonaws.services.lambda.runtime.logging.LogLevel;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;

/** LambdaLogger: one log event per call. The executor reads stdout line by line, so an
 * event's own line breaks travel as carriage returns (as the Python runtime's do). */
final class TextLogger implements LambdaLogger {
    private final OutputStream out;
    private final LogLevel minimum;

    TextLogger(OutputStream out) {
        this.out = out;
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
        String text = String.valueOf(message);
        if (level != null && level != LogLevel.UNDEFINED) {
            text = "[" + level + "] " + text;
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
