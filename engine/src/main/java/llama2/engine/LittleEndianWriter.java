package llama2.engine;

import java.io.IOException;
import java.io.OutputStream;

/** Buffers little-endian ints, floats and bytes into an output stream: every binary file this project writes. */
public final class LittleEndianWriter {
    private final OutputStream out;
    private final byte[] buffer = new byte[1 << 16];
    private int used;

    public LittleEndianWriter(OutputStream out) {
        this.out = out;
    }

    public void writeInt(int v) throws IOException {
        room(4);
        buffer[used++] = (byte) v;
        buffer[used++] = (byte) (v >>> 8);
        buffer[used++] = (byte) (v >>> 16);
        buffer[used++] = (byte) (v >>> 24);
    }

    public void writeLong(long v) throws IOException {
        writeInt((int) v);
        writeInt((int) (v >>> 32));
    }

    public void writeByte(int v) throws IOException {
        room(1);
        buffer[used++] = (byte) v;
    }

    public void writeFloats(float[] values) throws IOException {
        for (float v : values) {
            writeInt(Float.floatToRawIntBits(v));
        }
    }

    public void writeBytes(byte[] values) throws IOException {
        flushBuffer();
        out.write(values);
    }

    public void writeZeros(int count) throws IOException {
        for (int i = 0; i < count; i++) {
            writeByte(0);
        }
    }

    public void flush() throws IOException {
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
