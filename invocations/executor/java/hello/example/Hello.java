package example;

import com.amazonaws.services.lambda.runtime.Context;
import com.amazonaws.services.lambda.runtime.LambdaLogger;
import com.amazonaws.services.lambda.runtime.RequestHandler;
import java.util.LinkedHashMap;
import java.util.Map;

/** The console's Java blueprint: logs the event and returns a greeting. */
public class Hello implements RequestHandler<Map<String, Object>, Map<String, Object>> {
    @Override
    public Map<String, Object> handleRequest(Map<String, Object> event, Context context) {
        LambdaLogger logger = context.getLogger();
        logger.log("Hello from Functory! " + event);
        Map<String, Object> response = new LinkedHashMap<>();
        response.put("statusCode", 200);
        response.put("body", "\"Hello from Lambda!\"");
        return response;
    }
}
