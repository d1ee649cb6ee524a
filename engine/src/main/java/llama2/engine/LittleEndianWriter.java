package llama2.engine;

import java.io.IOException;
import java.io.OutputStream;

/** Buffers little-endian ints, floats and bytes into an output stream. */
final class LittleEndianWriter {
    private final OutputStream out;
    private final byte[] buffer = new byte[1 << 16];
    private int used;

    LittleEndianWriter(OutputStream out) {
        this.out = out;
    }

    void writeInt(int v) throws IOException {
        room(4);
        buffer[used++] = (byte) v;
        buffer[used++] = (byte) (v >>> 8);
        buffer[used++] = (byte) (v >>> 16);
        buffer[used++] = (byte) (v >>> 24);
    }

    void writeByte(int v) throws IOException {
        room(1);
        buffer[used++] = (byte) v;
    }

    void writeFloats(float[] values) throws IOException {
        for (float v : values) {
            writeInt(Float.floatToRawIntBits(v));
        }
    }

    void writeBytes(byte[] values) throws IOException {
        flushBuffer();
        out.write(values);
    }

    void writeZeros(int count) throws IOException {
        for (int i = 0; i < count; i++) {
            writeByte(0);
        }
    }

    void flush() throws IOException {
        flushBuffer();
        out.flush();
    }

    private void room(int bytes) throws IOException {
        if (used + bytes > buffer.length) {
            flushBuffer();
        }
    }

    private void flushBuffer() throws IOException {
        out.write(buffer, 0, used);
        used = 0;
    }
}
