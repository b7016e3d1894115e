package functory.lambda.json;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.json.JsonReadFeature;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JavaType;
import com.fasterxml.jackson.databind.MapperFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.json.JsonMapper;
import functory.lambda.JsonCodec;
import java.io.InputStream;
import java.io.OutputStream;
import java.lang.reflect.Type;

/** POJO conversion configured as AWS's Java runtime configures its Jackson: lenient input,
 * unknown properties ignored, nulls left out of the output. */
public final class JacksonCodec implements JsonCodec {
    private static final String EVENTS = "com.amazonaws.services.lambda.runtime.events.";

    private final JsonMapper mapper;
    // aws-lambda-java-events' classes read events whose names differ from their beans' in
    // case ("Records", "eventSourceARN"): AWS's runtime maps them with mix-ins per class;
    // here, for those classes, names match whatever their case.
    private final JsonMapper events;

    public JacksonCodec() {
        JsonFactory factory = JsonFactory.builder()
                .enable(JsonReadFeature.ALLOW_NON_NUMERIC_NUMBERS)
                .enable(JsonReadFeature.ALLOW_LEADING_ZEROS_FOR_NUMBERS)
                .enable(JsonReadFeature.ALLOW_SINGLE_QUOTES)
                .enable(JsonReadFeature.ALLOW_BACKSLASH_ESCAPING_ANY_CHARACTER)
                .enable(JsonReadFeature.ALLOW_UNESCAPED_CONTROL_CHARS)
                .enable(JsonReadFeature.ALLOW_UNQUOTED_FIELD_NAMES)
                .build();
        factory.disable(JsonParser.Feature.AUTO_CLOSE_SOURCE);
        factory.disable(JsonGenerator.Feature.AUTO_CLOSE_TARGET);
        factory.disable(JsonGenerator.Feature.FLUSH_PASSED_TO_STREAM);
        mapper = JsonMapper.builder(factory)
                .enable(MapperFeature.USE_STD_BEAN_NAMING)
                .disable(MapperFeature.INFER_PROPERTY_MUTATORS)
                .disable(MapperFeature.USE_GETTERS_AS_SETTERS)
                .disable(SerializationFeature.FAIL_ON_EMPTY_BEANS)
                .enable(DeserializationFeature.ACCEPT_EMPTY_ARRAY_AS_NULL_OBJECT)
                .enable(DeserializationFeature.ACCEPT_EMPTY_STRING_AS_NULL_OBJECT)
                .enable(DeserializationFeature.ACCEPT_SINGLE_VALUE_AS_ARRAY)
                .enable(DeserializationFeature.READ_UNKNOWN_ENUM_VALUES_AS_NULL)
                .enable(DeserializationFeature.UNWRAP_SINGLE_VALUE_ARRAYS)
                .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
                .disable(DeserializationFeature.FAIL_ON_IGNORED_PROPERTIES)
                .disable(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES)
                .disable(DeserializationFeature.FAIL_ON_NUMBERS_FOR_ENUMS)
                .serializationInclusion(JsonInclude.Include.NON_NULL)
                .build();
        events = mapper.rebuild().enable(MapperFeature.ACCEPT_CASE_INSENSITIVE_PROPERTIES).build();
    }

    @Override
    public Object read(InputStream input, Type type) throws Exception {
        JavaType target = mapper.getTypeFactory().constructType(type);
        ObjectMapper reader = target.getRawClass().getName().startsWith(EVENTS) ? events : mapper;
        return reader.readValue(input, target);
    }

    @Override
    public void write(Object value, Type type, OutputStream output) throws Exception {
        mapper.writerFor(mapper.getTypeFactory().constructType(type)).writeValue(output, value);
    }
}
