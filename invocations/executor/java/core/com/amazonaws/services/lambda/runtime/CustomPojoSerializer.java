package com.amazonaws.services.lambda.runtime;

import java.io.InputStream;
import java.io.OutputStream;
import java.lang.reflect.Type;

/** A function's own JSON conversion for its handler's input and output, found with
 * java.util.ServiceLoader in the function's code. */
public interface CustomPojoSerializer {
    <T> T fromJson(InputStream input, Type type);

    <T> T fromJson(String input, Type type);

    <T> void toJson(T value, OutputStream output, Type type);
}
