package com.amazonaws.services.lambda.runtime;

import java.io.IOException;

/** The function's logger outside a handler (static initialisers, other threads). */
public final class LambdaRuntime {
    private LambdaRuntime() {}

    // Replaced by the runtime at start (by reflection, as AWS's runtime does), so that code
    // compiled against either library logs the same way; stdout until then.
    private static volatile LambdaLogger logger =
            new LambdaLogger() {
                @Override
                public void log(String message) {
                    System.out.print(message);
                }

                @Override
                public void log(byte[] message) {
                    try {
                        System.out.write(message);
                    } catch (IOException e) {
                        e.printStackTrace();
                    }
                }
            };

    public static LambdaLogger getLogger() {
        return logger;
    }
}
