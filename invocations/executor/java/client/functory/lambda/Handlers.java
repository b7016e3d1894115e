package functory.lambda;

import com.amazonaws.services.lambda.runtime.Context;
import com.amazonaws.services.lambda.runtime.RequestHandler;
import com.amazonaws.services.lambda.runtime.RequestStreamHandler;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.OutputStream;
import java.lang.reflect.Constructor;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.lang.reflect.ParameterizedType;
import java.lang.reflect.Type;
import java.lang.reflect.TypeVariable;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;

/** Finds the handler named by _HANDLER (``package.Class::method`` or ``package.Class``) and
 * adapts it to bytes in, bytes out, following the rules of AWS's Java runtime. */
final class Handlers {
    interface Handler {
        byte[] handle(byte[] event, Context context) throws Throwable;
    }

    private static final byte[] NULL = "null".getBytes(StandardCharsets.US_ASCII);

    private Handlers() {}

    static String className(String handler) {
        int colons = handler.lastIndexOf("::");
        return colons < 0 ? handler : handler.substring(0, colons);
    }

    /** The handler, or a Handler that fails every invocation with a non-fatal Fault; a fatal
     * Fault (the class's initialiser or constructor threw) is thrown. */
    static Handler load(String handler, ClassLoader loader, Supplier<JsonCodec> codec) {
        int colons = handler.lastIndexOf("::");
        String className = colons < 0 ? handler : handler.substring(0, colons);
        String methodName = colons < 0 ? null : handler.substring(colons + 2);
        if (className.isEmpty() || (methodName != null && methodName.isEmpty())) {
            return failing(Fault.of("Invalid handler: `" + handler + "'"));
        }
        Class<?> clazz;
        try {
            clazz = Class.forName(className, true, loader);
        } catch (ClassNotFoundException e) {
            return failing(new Fault("Class not found: " + className, e.getClass().getName(), Fault.trace(e), false));
        } catch (NoClassDefFoundError e) {
            return failing(loadingFault(e, className, false));
        } catch (Throwable t) {
            throw loadingFault(t, className, true);
        }
        try {
            return methodName == null ? forClass(clazz, codec) : forMethod(clazz, methodName, codec);
        } catch (Fault fault) {
            if (fault.fatal) {
                throw fault;
            }
            return failing(fault);
        } catch (Throwable t) {
            return failing(Fault.of(t, false));
        }
    }

    private static Fault loadingFault(Throwable t, String className, boolean fatal) {
        String message = "Error loading class " + className + (t.getMessage() == null ? "" : ": " + t.getMessage());
        return new Fault(message, t.getClass().getName(), Fault.trace(t), fatal);
    }

    private static Handler failing(final Fault fault) {
        return (event, context) -> {
            throw fault;
        };
    }

    private static Object instantiate(Class<?> clazz) throws Exception {
        Constructor<?> constructor;
        try {
            constructor = clazz.getConstructor();
        } catch (NoSuchMethodException e) {
            if (clazz.getEnclosingClass() != null && !Modifier.isStatic(clazz.getModifiers())) {
                throw new Exception("Class " + clazz.getName() + " cannot be instantiated because it is a non-static inner class");
            }
            throw new Exception("Class " + clazz.getName() + " has no public zero-argument constructor", e);
        }
        try {
            return constructor.newInstance();
        } catch (InvocationTargetException e) {
            throw Fault.of(e.getCause() == null ? e : e.getCause(), true);
        }
    }

    // -- package.Class ------------------------------------------------------------------

    private static Handler forClass(Class<?> clazz, Supplier<JsonCodec> codec) throws Exception {
        if (RequestStreamHandler.class.isAssignableFrom(clazz)) {
            final RequestStreamHandler target = (RequestStreamHandler) instantiate(clazz);
            return (event, context) -> {
                ByteArrayOutputStream output = new ByteArrayOutputStream();
                target.handleRequest(new ByteArrayInputStream(event), output, context);
                return output.toByteArray();
            };
        }
        if (RequestHandler.class.isAssignableFrom(clazz)) {
            Type[] types = requestHandlerTypes(clazz);
            if (types == null) {
                throw Fault.of("Class " + clazz.getName() + " does not implement RequestHandler with concrete type parameters");
            }
            @SuppressWarnings("unchecked")
            final RequestHandler<Object, Object> target = (RequestHandler<Object, Object>) instantiate(clazz);
            return pojo(types[0], types[1], codec, (input, context) -> target.handleRequest(input, context));
        }
        throw Fault.of("Class does not implement an appropriate handler interface: " + clazz.getName());
    }

    /** RequestHandler's I and O as ``clazz`` binds them, through superclasses and interfaces. */
    static Type[] requestHandlerTypes(Class<?> clazz) {
        return find(clazz, new HashMap<>());
    }

    private static Type[] find(Type type, Map<TypeVariable<?>, Type> bindings) {
        Class<?> raw;
        Type[] arguments = null;
        if (type instanceof ParameterizedType) {
            ParameterizedType parameterized = (ParameterizedType) type;
            raw = (Class<?>) parameterized.getRawType();
            arguments = parameterized.getActualTypeArguments();
            TypeVariable<?>[] variables = raw.getTypeParameters();
            Map<TypeVariable<?>, Type> inner = new HashMap<>(bindings);
            Type[] bound = new Type[arguments.length];
            for (int i = 0; i < arguments.length; i++) {
                bound[i] = bindings.getOrDefault(arguments[i], arguments[i]);
                if (i < variables.length) {
                    inner.put(variables[i], bound[i]);
                }
            }
            arguments = bound;
            bindings = inner;
        } else if (type instanceof Class) {
            raw = (Class<?>) type;
        } else {
            return null;
        }
        if (raw == RequestHandler.class) {
            if (arguments == null || arguments.length != 2) {
                return null;
            }
            Type[] concrete = new Type[2];
            for (int i = 0; i < 2; i++) {
                Type argument = arguments[i];
                if (argument instanceof TypeVariable) {
                    Type[] bounds = ((TypeVariable<?>) argument).getBounds();
                    argument = bounds.length == 0 ? Object.class : bounds[0];
                }
                concrete[i] = argument;
            }
            return concrete;
        }
        for (Type parent : raw.getGenericInterfaces()) {
            Type[] found = find(parent, bindings);
            if (found != null) {
                return found;
            }
        }
        Type parent = raw.getGenericSuperclass();
        return parent == null ? null : find(parent, bindings);
    }

    // -- package.Class::method ----------------------------------------------------------

    private static boolean isContext(Type type) {
        return type == Context.class;
    }

    private static int weight(Method method) {
        Class<?>[] parameters = method.getParameterTypes();
        int length = parameters.length;
        // A trailing Context counts one more: AWS's runtime ranks overloads this way.
        return length > 0 && isContext(parameters[length - 1]) ? length + 1 : length;
    }

    private static Handler forMethod(Class<?> clazz, String name, Supplier<JsonCodec> codec) throws Exception {
        List<Method> candidates = new ArrayList<>();
        for (Method method : clazz.getMethods()) {
            if (method.getName().equals(name)) {
                candidates.add(method);
            }
        }
        candidates.sort(Comparator.comparing(Method::isBridge).thenComparing(Comparator.comparingInt(Handlers::weight).reversed()));
        for (Method method : candidates) {
            Handler handler = forOverload(clazz, method, codec);
            if (handler != null) {
                return handler;
            }
        }
        throw Fault.of("No public method named " + name + " with appropriate method signature found on class " + clazz.getName());
    }

    private static Handler forOverload(Class<?> clazz, Method method, Supplier<JsonCodec> codec) throws Exception {
        Type[] p = method.getGenericParameterTypes();
        Type result = method.getGenericReturnType();
        switch (p.length) {
            case 0:
                return pojoMethod(clazz, method, null, result, false, codec);
            case 1:
                if (p[0] == InputStream.class) {
                    return streamMethod(clazz, method, true, false, false);
                }
                if (p[0] == OutputStream.class) {
                    return streamMethod(clazz, method, false, true, false);
                }
                if (isContext(p[0])) {
                    return pojoMethod(clazz, method, null, result, true, codec);
                }
                return pojoMethod(clazz, method, p[0], result, false, codec);
            case 2:
                if (p[0] == OutputStream.class) {
                    return isContext(p[1]) ? streamMethod(clazz, method, false, true, true) : null;
                }
                if (isContext(p[0])) {
                    return null;
                }
                if (p[0] == InputStream.class) {
                    if (p[1] == OutputStream.class) {
                        return streamMethod(clazz, method, true, true, false);
                    }
                    return isContext(p[1]) ? streamMethod(clazz, method, true, false, true) : null;
                }
                return isContext(p[1]) ? pojoMethod(clazz, method, p[0], result, true, codec) : null;
            case 3:
                if (p[0] == InputStream.class && p[1] == OutputStream.class && isContext(p[2])) {
                    return streamMethod(clazz, method, true, true, true);
                }
                return null;
            default:
                return null;
        }
    }

    private interface Call {
        Object apply(Object input, Context context) throws Throwable;
    }

    private static Object invoke(Method method, Object target, Object... arguments) throws Throwable {
        try {
            return method.invoke(target, arguments);
        } catch (InvocationTargetException e) {
            throw e.getCause() == null ? e : e.getCause();
        }
    }

    private static Handler pojoMethod(Class<?> clazz, final Method method, Type input, Type result, final boolean withContext, Supplier<JsonCodec> codec) throws Exception {
        final Object target = Modifier.isStatic(method.getModifiers()) ? null : instantiate(clazz);
        final boolean withInput = input != null;
        return pojo(input, result, codec, (value, context) -> {
            if (withInput && withContext) {
                return invoke(method, target, value, context);
            }
            if (withInput) {
                return invoke(method, target, value);
            }
            return withContext ? invoke(method, target, context) : invoke(method, target);
        });
    }

    private static Handler streamMethod(Class<?> clazz, final Method method, final boolean input, final boolean output, final boolean withContext) throws Exception {
        final Object target = Modifier.isStatic(method.getModifiers()) ? null : instantiate(clazz);
        return (event, context) -> {
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            List<Object> arguments = new ArrayList<>(3);
            if (input) {
                arguments.add(new ByteArrayInputStream(event));
            }
            if (output) {
                arguments.add(out);
            }
            if (withContext) {
                arguments.add(context);
            }
            invoke(method, target, arguments.toArray());
            return output ? out.toByteArray() : NULL;
        };
    }

    private static boolean isVoid(Type type) {
        return type == void.class || type == Void.class;
    }

    private static Handler pojo(final Type input, final Type result, final Supplier<JsonCodec> codecs, final Call call) {
        final JsonCodec codec = codecs.get(); // loaded with the handler: init time, not the first invocation's
        return (event, context) -> {
            Object value = null;
            if (input != null) {
                try {
                    value = codec.read(new ByteArrayInputStream(event), input);
                } catch (Throwable t) {
                    throw new RuntimeException("An error occurred during JSON parsing", Fault.userFrames(t));
                }
            }
            Object output = call.apply(value, context);
            if (result == null || isVoid(result)) {
                return NULL;
            }
            try {
                ByteArrayOutputStream out = new ByteArrayOutputStream();
                codec.write(output, result, out);
                return out.toByteArray();
            } catch (Throwable t) {
                throw new RuntimeException("An error occurred during JSON serialization of response", t);
            }
        };
    }
}
