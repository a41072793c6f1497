using System.Buffers.Binary;
using System.Text;
using ServerlessWs.Core.Sessions;

namespace ServerlessWs.Core.Redis;

/// <summary>
/// The payload of a server's inbox channel: a compact binary form, one command per message.
/// <code>
/// deliver: 'D' | clientId | seq:i64 | appendedAtMs:i64 | from | group | traceparent | data (the rest)
///          (a group's doorbell is a deliver whose clientId is the group and whose seq is the gseq)
/// kick:    'K' | clientId | maxEpoch:i64 | closeCode:i32
/// </code>
/// Strings are a big-endian u16 byte length and UTF-8; length 0xFFFF means none.
/// </summary>
public static class InboxCodec
{
    private const byte Deliver = (byte)'D';
    private const byte Kick = (byte)'K';
    private const ushort NoString = ushort.MaxValue;

    public static byte[] EncodeDeliver(string clientId, LogEntry entry)
    {
        var size = 1 + StringSize(clientId) + 16 + StringSize(entry.From) + StringSize(entry.Group) + StringSize(entry.TraceParent) + entry.Data.Length;
        var buffer = new byte[size];
        var span = buffer.AsSpan();
        span[0] = Deliver;
        var at = 1;
        at += WriteString(span[at..], clientId);
        BinaryPrimitives.WriteInt64BigEndian(span[at..], entry.Seq);
        BinaryPrimitives.WriteInt64BigEndian(span[(at + 8)..], entry.AppendedAtMs);
        at += 16;
        at += WriteString(span[at..], entry.From);
        at += WriteString(span[at..], entry.Group);
        at += WriteString(span[at..], entry.TraceParent);
        entry.Data.Span.CopyTo(span[at..]);
        return buffer;
    }

    public static byte[] EncodeKick(string clientId, long maxEpoch, int closeCode)
    {
        var buffer = new byte[1 + StringSize(clientId) + 12];
        var span = buffer.AsSpan();
        span[0] = Kick;
        var at = 1 + WriteString(span[1..], clientId);
        BinaryPrimitives.WriteInt64BigEndian(span[at..], maxEpoch);
        BinaryPrimitives.WriteInt32BigEndian(span[(at + 8)..], closeCode);
        return buffer;
    }

    /// <summary>A group's doorbell: a deliver command addressed to the group, carrying the group's entry (gseq in the seq field).</summary>
    public static byte[] EncodeGroupEntry(LogEntry entry) => EncodeDeliver(entry.Group!, entry);

    /// <summary>Decodes a group's doorbell; null for a payload it cannot read.</summary>
    public static LogEntry? DecodeGroupEntry(ReadOnlyMemory<byte> payload)
    {
        var decoded = new EntryCatcher();
        return Dispatch(payload, decoded) ? decoded.Entry : null;
    }

    /// <summary>Decodes one command and hands it to <paramref name="inbox"/>; false for a payload it cannot read.</summary>
    public static bool Dispatch(ReadOnlyMemory<byte> payload, Routing.INodeInbox inbox)
    {
        try
        {
            var span = payload.Span;
            if (span.Length < 3)
            {
                return false;
            }

            var at = 1;
            var clientId = ReadString(span, ref at)!;
            switch (span[0])
            {
                case Deliver:
                    var seq = BinaryPrimitives.ReadInt64BigEndian(span[at..]);
                    var appendedAt = BinaryPrimitives.ReadInt64BigEndian(span[(at + 8)..]);
                    at += 16;
                    var from = ReadString(span, ref at)!;
                    var group = ReadString(span, ref at);
                    var traceParent = ReadString(span, ref at);
                    inbox.OnDeliver(clientId, new LogEntry(seq, from, group, payload[at..].ToArray(), appendedAt) { TraceParent = traceParent });
                    return true;
                case Kick:
                    inbox.OnKick(clientId, BinaryPrimitives.ReadInt64BigEndian(span[at..]), BinaryPrimitives.ReadInt32BigEndian(span[(at + 8)..]));
                    return true;
                default:
                    return false;
            }
        }
        catch (ArgumentOutOfRangeException)
        {
            return false;
        }
    }

    private static int StringSize(string? value) => 2 + (value is null ? 0 : Encoding.UTF8.GetByteCount(value));

    private static int WriteString(Span<byte> span, string? value)
    {
        if (value is null)
        {
            BinaryPrimitives.WriteUInt16BigEndian(span, NoString);
            return 2;
        }

        var length = Encoding.UTF8.GetBytes(value, span[2..]);
        BinaryPrimitives.WriteUInt16BigEndian(span, (ushort)length);
        return 2 + length;
    }

    private static string? ReadString(ReadOnlySpan<byte> span, ref int at)
    {
        var length = BinaryPrimitives.ReadUInt16BigEndian(span[at..]);
        at += 2;
        if (length == NoString)
        {
            return null;
        }

        var value = Encoding.UTF8.GetString(span.Slice(at, length));
        at += length;
        return value;
    }

    /// <summary>Keeps the entry of a decoded deliver command (a group doorbell is never a kick).</summary>
    private sealed class EntryCatcher : Routing.INodeInbox
    {
        public LogEntry? Entry { get; private set; }

        public void OnDeliver(string clientId, LogEntry entry) => Entry = entry;

        public void OnKick(string clientId, long maxEpoch, int closeCode)
        {
        }
    }
}
