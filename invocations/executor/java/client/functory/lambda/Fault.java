package functory.lambda;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.Collections;

/** A problem with the function's code found by the runtime (no such class, no usable
 * method...): reported as AWS's runtime reports it, a message and a type, no stack trace.
 * A fatal one ends the environment (an init error); others fail each invocation. */
final class Fault extends RuntimeException {
    private static final long serialVersionUID = 1L;
    private static final String OWN_PACKAGE = Fault.class.getPackage().getName() + ".";

    final String errorMessage;
    final String errorType;
    final String trace;
    final boolean fatal;

    Fault(String message, String type, String trace, boolean fatal) {
        super(message, null, false, false);
        this.errorMessage = message;
        this.errorType = type;
        this.trace = trace;
        this.fatal = fatal;
    }

    static Fault of(String message) {
        return new Fault(message, null, null, false);
    }

    static Fault of(Throwable t, boolean fatal) {
        return new Fault(messageOf(t), t.getClass().getName(), trace(t), fatal);
    }

    static String messageOf(Throwable t) {
        String message = t.getLocalizedMessage();
        return message == null ? t.getClass().getName() : message;
    }

    /** Drops the runtime's own frames (and what called them) from ``t`` and its causes. */
    static <T extends Throwable> T userFrames(T t) {
        strip(t, Collections.newSetFromMap(new IdentityHashMap<>()));
        return t;
    }

    private static void strip(Throwable t, Set<Throwable> seen) {
        if (t == null || !seen.add(t)) {
            return;
        }
        StackTraceElement[] frames = t.getStackTrace();
        for (int i = 0; i < frames.length; i++) {
            if (frames[i].getClassName().startsWith(OWN_PACKAGE)) {
                StackTraceElement[] kept = new StackTraceElement[i];
                System.arraycopy(frames, 0, kept, 0, i);
                t.setStackTrace(kept);
                break;
            }
        }
        strip(t.getCause(), seen);
        for (Throwable suppressed : t.getSuppressed()) {
            strip(suppressed, seen);
        }
    }

    static String trace(Throwable t) {
        userFrames(t);
        StringWriter text = new StringWriter();
        t.printStackTrace(new PrintWriter(text));
        return text.toString();
    }

    /** The log event AWS's Java runtime writes for an error: message, type, stack trace. */
    String logText() {
        if (errorType == null && trace == null) {
            return errorMessage;
        }
        return errorMessage + ": " + (errorType == null ? "" : errorType) + "\n" + (trace == null ? "" : trace);
    }

    Map<String, Object> document() {
        Map<String, Object> document = new LinkedHashMap<>();
        document.put("errorMessage", errorMessage);
        if (errorType != null) {
            document.put("errorType", errorType);
        }
        return document;
    }

    /** An exception thrown by the function: its message, class and frames, and its cause's. */
    static Map<String, Object> documentOf(Throwable t) {
        return documentOf(t, Collections.newSetFromMap(new IdentityHashMap<>()));
    }

    private static Map<String, Object> documentOf(Throwable t, Set<Throwable> seen) {
        seen.add(t);
        Map<String, Object> document = new LinkedHashMap<>();
        document.put("errorMessage", messageOf(t));
        document.put("errorType", t.getClass().getName());
        List<Object> frames = new ArrayList<>();
        for (StackTraceElement frame : t.getStackTrace()) {
            frames.add(frame.toString());
        }
        document.put("stackTrace", frames);
        Throwable cause = t.getCause();
        if (cause != null && !seen.contains(cause)) {
            document.put("cause", documentOf(cause, seen));
        }
        return document;
    }
}
