package functory.lambda;

import com.amazonaws.services.lambda.runtime.CustomPojoSerializer;
import java.io.File;
import java.io.InputStream;
import java.io.OutputStream;
import java.lang.reflect.Type;
import java.net.MalformedURLException;
import java.net.URL;
import java.net.URLClassLoader;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.ServiceLoader;

/** The class loaders: the function's code sees the Java platform and the
 * com.amazonaws.services.lambda.runtime interfaces, nothing else of the runtime (its own
 * Jackson, say, is never shadowed by ours, as AWS shades its copy). */
final class Loaders {
    private static final String API_PACKAGE = "com.amazonaws.services.lambda.runtime.";

    private Loaders() {}

    /** Hands out the platform's interface classes, and only them. */
    private static final class ApiOnly extends ClassLoader {
        private final ClassLoader runtime;

        ApiOnly(ClassLoader runtime) {
            super(ClassLoader.getPlatformClassLoader());
            this.runtime = runtime;
        }

        @Override
        protected Class<?> findClass(String name) throws ClassNotFoundException {
            if (name.startsWith(API_PACKAGE)) {
                // Those this runtime lacks (aws-lambda-java-events...) come from the function.
                return runtime.loadClass(name);
            }
            throw new ClassNotFoundException(name);
        }

        @Override
        protected URL findResource(String name) {
            return null;
        }
    }

    private static void addJars(File directory, List<URL> urls) throws MalformedURLException {
        String[] names = directory.list((dir, name) -> name.length() > 4 && name.endsWith(".jar"));
        if (names == null) {
            return;
        }
        Arrays.sort(names); // a stable order, whatever the file system lists first
        for (String name : names) {
            urls.add(new File(directory, name).toURI().toURL());
        }
    }

    /** /var/task, /var/task/lib/*.jar, then the layers' /opt/java/lib/*.jar: AWS's order. */
    static ClassLoader function(String taskRoot) throws MalformedURLException {
        List<URL> urls = new ArrayList<>();
        urls.add(new File(taskRoot).toURI().toURL());
        addJars(new File(taskRoot, "lib"), urls);
        addJars(new File("/opt/java/lib"), urls);
        return new URLClassLoader(urls.toArray(new URL[0]), new ApiOnly(Loaders.class.getClassLoader()));
    }

    /** The function's CustomPojoSerializer if it has one, else the runtime's Jackson. */
    static JsonCodec codec(ClassLoader function) {
        Iterator<CustomPojoSerializer> custom = ServiceLoader.load(CustomPojoSerializer.class, function).iterator();
        if (custom.hasNext()) {
            final CustomPojoSerializer serializer = custom.next();
            return new JsonCodec() {
                @Override
                public Object read(InputStream input, Type type) {
                    return serializer.fromJson(input, type);
                }

                @Override
                public void write(Object value, Type type, OutputStream output) {
                    serializer.toJson(value, output, type);
                }
            };
        }
        try {
            File runtimeJar = new File(Loaders.class.getProtectionDomain().getCodeSource().getLocation().toURI());
            List<URL> urls = new ArrayList<>();
            addJars(new File(runtimeJar.getParentFile(), "json"), urls);
            ClassLoader loader = new URLClassLoader(urls.toArray(new URL[0]), Loaders.class.getClassLoader());
            Class<?> jackson = Class.forName("functory.lambda.json.JacksonCodec", true, loader);
            return (JsonCodec) jackson.getConstructor().newInstance();
        } catch (ReflectiveOperationException | java.net.URISyntaxException | MalformedURLException e) {
            throw new IllegalStateException("the runtime's JSON library is missing", e);
        }
    }
}
