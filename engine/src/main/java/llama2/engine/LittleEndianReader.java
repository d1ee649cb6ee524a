package llama2.engine;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/** Reads the little-endian ints, floats and bytes of a llama2.c file, naming what ran out. */
public final class LittleEndianReader {
    private final ByteBuffer buffer;
    private final String source;

    public LittleEndianReader(ByteBuffer file, String source) {
        this.buffer = file.slice().order(ByteOrder.LITTLE_ENDIAN);
        this.source = source;
    }

    public long size() {
        return buffer.limit();
    }

    public int position() {
        return buffer.position();
    }

    public void seek(int position) {
        buffer.position(position);
    }

    public int readInt(String what) {
        require(4, what);
        return buffer.getInt();
    }

    public long readLong(String what) {
        require(8, what);
        return buffer.getLong();
    }

    public float readFloat(String what) {
        require(4, what);
        return buffer.getFloat();
    }

    public byte readByte(String what) {
        require(1, what);
        return buffer.get();
    }

    public float[] readFloats(int count, String what) {
        require(4L * count, what);
        float[] out = new float[count];
        buffer.asFloatBuffer().get(out);
        buffer.position(buffer.position() + 4 * count);
        return out;
    }

    public byte[] readBytes(int count, String what) {
        require(count, what);
        byte[] out = new byte[count];
        buffer.get(out);
        return out;
    }

    public void skip(long count, String what) {
        require(count, what);
        buffer.position((int) (buffer.position() + count));
    }

    private void require(long bytes, String what) {
        if (bytes > buffer.remaining()) {
            throw new BadInputException(source + ": truncated: " + what + " needs " + bytes + " bytes at offset "
                    + buffer.position() + ", only " + buffer.remaining() + " left");
        }
    }
}
