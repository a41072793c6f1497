namespace ServerlessWs.App.Heartbeat;

/// <summary>
/// Follows RFC 6455 frame boundaries in the client-to-server byte stream without copying or unmasking anything,
/// to count pong frames (opcode 0xA), and the frames the receive loop never sees (control frames, which the
/// WebSocket answers itself, and continuation fragments) for the connection's frame budget, and the fragments of
/// the message in progress. Malformed input is the WebSocket's to refuse; the scanner only keeps pace, and notes the
/// two violations it must not step past (see <see cref="HeartbeatStream"/> for why): after one of them it scans no
/// further.
/// </summary>
internal struct InboundFrameScanner
{
    private const int ContinuationOpcode = 0x0;
    private const int PongOpcode = 0xA;

    private State _state;
    private int _opcode;
    private int _fragments;
    private bool _masked;
    private int _lengthBytesLeft;
    private int _maskBytesLeft;
    private long _payloadLeft;

    /// <summary>
    /// The RFC 6455 violation seen, if any: an unmasked frame (§5.1: a client masks every frame), or a 64-bit length
    /// with its top bit set (§5.2), which is no length at all and which the scanner cannot skip.
    /// </summary>
    public string? Violation { get; private set; }

    /// <summary>The most continuation fragments one message has had so far (sticky: it never goes down).</summary>
    public int MostFragments { get; private set; }

    private enum State
    {
        FirstByte,
        SecondByte,
        ExtendedLength,
        MaskKey,
        Payload,
    }

    /// <summary>Consumes <paramref name="data"/> and returns how many pong frame headers it completed.</summary>
    public int Scan(ReadOnlySpan<byte> data) => Scan(data, out _);

    /// <summary>
    /// Consumes <paramref name="data"/>: how many pong frame headers it completed, and how many headers of frames that
    /// do not start a message (control frames and continuations: <paramref name="unseen"/>).
    /// </summary>
    public int Scan(ReadOnlySpan<byte> data, out int unseen)
    {
        unseen = 0;
        var pongs = 0;
        var i = 0;
        while (i < data.Length && Violation is null)
        {
            switch (_state)
            {
                case State.FirstByte:
                    _opcode = data[i++] & 0x0F;
                    _state = State.SecondByte;
                    break;
                case State.SecondByte:
                    var second = data[i++];
                    _masked = (second & 0x80) != 0;
                    if (!_masked)
                    {
                        Violation = "an unmasked frame (RFC 6455 §5.1)";
                    }

                    var length = second & 0x7F;
                    _payloadLeft = length < 126 ? length : 0;
                    _lengthBytesLeft = length switch { 126 => 2, 127 => 8, _ => 0 };
                    if (_lengthBytesLeft > 0)
                    {
                        _state = State.ExtendedLength;
                    }
                    else
                    {
                        pongs += EndOfLength(ref unseen);
                    }

                    break;
                case State.ExtendedLength:
                    _payloadLeft = (_payloadLeft << 8) | data[i++];
                    if (--_lengthBytesLeft > 0)
                    {
                        break;
                    }

                    if (_payloadLeft < 0)
                    {
                        Violation = "a frame length with its most significant bit set (RFC 6455 §5.2)";
                    }
                    else
                    {
                        pongs += EndOfLength(ref unseen);
                    }

                    break;
                case State.MaskKey:
                    i++;
                    if (--_maskBytesLeft == 0)
                    {
                        pongs += EndOfHeader(ref unseen);
                    }

                    break;
                case State.Payload:
                    var skip = (int)Math.Min(_payloadLeft, data.Length - i);
                    i += skip;
                    _payloadLeft -= skip;
                    if (_payloadLeft == 0)
                    {
                        _state = State.FirstByte;
                    }

                    break;
            }
        }

        return pongs;
    }

    private int EndOfLength(ref int unseen)
    {
        if (_masked)
        {
            _maskBytesLeft = 4;
            _state = State.MaskKey;
            return 0;
        }

        return EndOfHeader(ref unseen);
    }

    private int EndOfHeader(ref int unseen)
    {
        _state = _payloadLeft == 0 ? State.FirstByte : State.Payload;
        if (_opcode == ContinuationOpcode)
        {
            MostFragments = Math.Max(MostFragments, ++_fragments);
        }
        else if (_opcode < 0x8)
        {
            // A data frame starts a message: the receive loop charges the message itself.
            _fragments = 0;
            return 0;
        }

        unseen++;
        return _opcode == PongOpcode ? 1 : 0;
    }
}
