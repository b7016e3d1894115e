package functory.lambda;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Locale;
import java.util.Map;

/** A keep-alive HTTP/1.1 client for the Runtime API over one socket. Written by hand (no
 * java.net.http, no HttpURLConnection): each class the JVM loads is cold-start time. */
final class RuntimeApi {
    static final String PREFIX = "/2018-06-01/runtime";

    static final class Reply {
        final int status;
        final Map<String, String> headers;
        final byte[] body;

        Reply(int status, Map<String, String> headers, byte[] body) {
            this.status = status;
            this.headers = headers;
            this.body = body;
        }
    }

    private final String host;
    private final int port;
    private Socket socket;
    private InputStream in;
    private OutputStream out;

    RuntimeApi(String address) {
        int colon = address.lastIndexOf(':');
        this.host = colon < 0 ? address : address.substring(0, colon);
        this.port = colon < 0 ? 80 : Integer.parseInt(address.substring(colon + 1));
    }

    private void connect() throws IOException {
        IOException last = null;
        for (int attempt = 0; attempt < 200; attempt++) {
            try {
                Socket s = new Socket();
                s.setTcpNoDelay(true);
                s.connect(new InetSocketAddress(host, port));
                socket = s;
                in = new java.io.BufferedInputStream(s.getInputStream(), 65536);
                out = s.getOutputStream();
                return;
            } catch (IOException e) {
                last = e;
                try {
                    Thread.sleep(10);
                } catch (InterruptedException interrupted) {
                    Thread.currentThread().interrupt();
                }
            }
        }
        throw last;
    }

    Reply request(String method, String path, byte[] body, Map<String, String> headers) throws IOException {
        if (socket == null) {
            connect();
        }
        StringBuilder head = new StringBuilder(128);
        head.append(method).append(' ').append(path).append(" HTTP/1.1\r\nHost: ").append(host)
                .append("\r\nContent-Length: ").append(body.length).append("\r\n");
        if (headers != null) {
            for (Map.Entry<String, String> header : headers.entrySet()) {
                head.append(header.getKey()).append(": ").append(header.getValue()).append("\r\n");
            }
        }
        head.append("\r\n");
        byte[] headBytes = head.toString().getBytes(StandardCharsets.ISO_8859_1);
        byte[] message = new byte[headBytes.length + body.length];
        System.arraycopy(headBytes, 0, message, 0, headBytes.length);
        System.arraycopy(body, 0, message, headBytes.length, body.length);
        out.write(message);
        out.flush();
        return readReply();
    }

    private String readLine() throws IOException {
        ByteArrayOutputStream line = new ByteArrayOutputStream(64);
        while (true) {
            int b = in.read();
            if (b < 0) {
                throw new IOException("the Runtime API closed the connection");
            }
            if (b == '\n') {
                break;
            }
            if (b != '\r') {
                line.write(b);
            }
        }
        return line.toString(StandardCharsets.ISO_8859_1);
    }

    private Reply readReply() throws IOException {
        String status = readLine();
        String[] parts = status.split(" ", 3);
        int code = Integer.parseInt(parts[1]);
        Map<String, String> headers = new HashMap<>();
        String line;
        while (!(line = readLine()).isEmpty()) {
            int colon = line.indexOf(':');
            if (colon > 0) {
                headers.put(line.substring(0, colon).trim().toLowerCase(Locale.ROOT), line.substring(colon + 1).trim());
            }
        }
        byte[] body;
        if ("chunked".equalsIgnoreCase(headers.get("transfer-encoding"))) {
            ByteArrayOutputStream collected = new ByteArrayOutputStream();
            while (true) {
                int size = Integer.parseInt(readLine().split(";", 2)[0].trim(), 16);
                if (size == 0) {
                    while (!readLine().isEmpty()) {
                        // trailers
                    }
                    break;
                }
                collected.write(in.readNBytes(size));
                readLine();
            }
            body = collected.toByteArray();
        } else {
            int length = Integer.parseInt(headers.getOrDefault("content-length", "0"));
            body = in.readNBytes(length);
            if (body.length != length) {
                throw new IOException("the Runtime API closed the connection");
            }
        }
        return new Reply(code, headers, body);
    }
}
