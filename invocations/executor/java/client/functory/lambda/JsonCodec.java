package functory.lambda;

import java.io.InputStream;
import java.io.OutputStream;
import java.lang.reflect.Type;

/** Converts a handler's input and output from and to JSON. The implementation (Jackson) lives
 * in a class loader of its own, out of the function's sight, loaded only by POJO handlers. */
public interface JsonCodec {
    Object read(InputStream input, Type type) throws Exception;

    void write(Object value, Type type, OutputStream output) throws Exception;
}
