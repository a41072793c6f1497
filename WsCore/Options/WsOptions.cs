using System.ComponentModel.DataAnnotations;

namespace ServerlessWs.Core.Options;

/// <summary>
/// The <c>Ws</c> configuration section (docs/design.md "Configuration"). Every bound is checked at start-up and a bad
/// value stops the host with a message that names the key.
/// </summary>
public sealed class WsOptions
{
    public const string SectionName = "Ws";

    /// <summary>This node's id; empty means host name plus a short random suffix.</summary>
    [RegularExpression("^[A-Za-z0-9._:-]{0,128}$", ErrorMessage = "Ws:ServerId must be at most 128 characters of [A-Za-z0-9._:-].")]
    public string ServerId { get; set; } = string.Empty;

    /// <summary>Protocol ping interval in seconds; a client silent for a whole interval after a ping is dropped.</summary>
    [Range(1, 3600, ErrorMessage = "Ws:HeartbeatSeconds must be between 1 and 3600.")]
    public int HeartbeatSeconds { get; set; } = 30;

    /// <summary>Server lease TTL in seconds (renewed every third of it).</summary>
    [Range(3, 3600, ErrorMessage = "Ws:LeaseSeconds must be between 3 and 3600.")]
    public int LeaseSeconds { get; set; } = 15;

    /// <summary>How long, in seconds, a disconnected client id stays resumable.</summary>
    [Range(1, 86400, ErrorMessage = "Ws:SessionTtlSeconds must be between 1 and 86400.")]
    public int SessionTtlSeconds { get; set; } = 120;

    /// <summary>Per-client log length (messages kept for replay).</summary>
    [Range(1, 100_000, ErrorMessage = "Ws:LogMaxMessages must be between 1 and 100000.")]
    public int LogMaxMessages { get; set; } = 100;

    /// <summary>Per-client log age in seconds: older messages are not replayed.</summary>
    [Range(1, 86400, ErrorMessage = "Ws:LogMaxAgeSeconds must be between 1 and 86400.")]
    public int LogMaxAgeSeconds { get; set; } = 120;

    /// <summary>Largest accepted message in bytes of UTF-8 (fragments reassembled); larger ones close with 1009.</summary>
    [Range(256, 16 * 1024 * 1024, ErrorMessage = "Ws:MaxMessageBytes must be between 256 and 16777216.")]
    public int MaxMessageBytes { get; set; } = 64 * 1024;

    /// <summary>Open connections allowed on this node; 0 means no limit. Above it, connects get 503.</summary>
    [Range(0, int.MaxValue, ErrorMessage = "Ws:MaxConnections must be 0 (no limit) or more.")]
    public int MaxConnections { get; set; }

    /// <summary>Origins allowed to connect; empty allows any. A request without <c>Origin</c> is always allowed.</summary>
    public IList<string> AllowedOrigins { get; } = [];

    /// <summary>Seconds over which open sockets are closed with 1001 on shutdown.</summary>
    [Range(0, 3600, ErrorMessage = "Ws:DrainSeconds must be between 0 and 3600.")]
    public int DrainSeconds { get; set; } = 20;

    /// <summary>
    /// Frames per second one connection may send (burst twice that), control frames and fragments included. Past it
    /// frames are dropped (one <c>rate-limited</c> a second), reading is held back, and a client held back more than
    /// half of ten seconds is closed with 1008.
    /// </summary>
    [Range(1, 1_000_000, ErrorMessage = "Ws:FramesPerSecond must be between 1 and 1000000.")]
    public int FramesPerSecond { get; set; } = 200;

    /// <summary>
    /// Fragments (continuation frames) one client message may have; more closes the connection with 1008. Each also
    /// counts against <see cref="FramesPerSecond"/>; the cap ends a message that would otherwise never end.
    /// </summary>
    [Range(1, 1_000_000, ErrorMessage = "Ws:MaxFragmentsPerMessage must be between 1 and 1000000.")]
    public int MaxFragmentsPerMessage { get; set; } = 128;

    /// <summary>Connects per second from one remote address; 0 means no limit. Above it, connects get 429.</summary>
    [Range(0, 1_000_000, ErrorMessage = "Ws:ConnectsPerSecondPerAddress must be 0 (no limit) or more.")]
    public int ConnectsPerSecondPerAddress { get; set; }

    /// <summary>
    /// Bytes per second one connection may cause to be stored and sent (bursts of twice that): a direct send costs its
    /// data, a group send its data once for each member it reaches. Sends over it get <c>rate-limited</c>.
    /// </summary>
    [Range(1024, 1_000_000_000, ErrorMessage = "Ws:SendBytesPerSecond must be between 1024 and 1000000000.")]
    public int SendBytesPerSecond { get; set; } = 4 * 1024 * 1024;

    /// <summary>
    /// Serve a connection's first <c>GET /ws</c> upgrade on the bare socket, in front of Kestrel (docs/performance.md:
    /// an idle socket then holds no Kestrel connection state). The fast path applies Kestrel's request limits and
    /// <c>AllowedHosts</c> itself, but middleware added to the host does not see those upgrades; false sends every
    /// upgrade through Kestrel and the HTTP pipeline.
    /// </summary>
    public bool FastUpgrade { get; set; } = true;

    /// <summary>
    /// Bytes all the outboxes of one node may hold together. Past it, the largest outboxes (clients that stopped
    /// reading) are closed with 1008 first, until the rest fits; their messages stay in their logs.
    /// </summary>
    [Range(1024 * 1024, long.MaxValue, ErrorMessage = "Ws:NodeOutboxBytes must be at least 1048576.")]
    public long NodeOutboxBytes { get; set; } = 256L * 1024 * 1024;

    /// <summary>
    /// Groups one client id may belong to at once; a <c>join</c> beyond it is answered <c>error</c> <c>not-allowed</c>.
    /// It also bounds the <c>since</c> parameters of a connect and a node's per-connection group state.
    /// </summary>
    [Range(1, 10_000, ErrorMessage = "Ws:MaxGroupsPerClient must be between 1 and 10000.")]
    public int MaxGroupsPerClient { get; set; } = 100;

    /// <summary>
    /// Members one group may have (ids whose session lapsed are not counted); a <c>join</c> beyond it is answered
    /// <c>error</c> <c>not-allowed</c>. The broadcast group has no such limit: its members are the connected clients.
    /// </summary>
    [Range(1, 10_000_000, ErrorMessage = "Ws:MaxMembersPerGroup must be between 1 and 10000000.")]
    public int MaxMembersPerGroup { get; set; } = 100_000;

    /// <summary>
    /// Frames waiting to be written to one client. A client that lets more pile up is not reading: it is closed with
    /// 1008 (its messages stay in the log for a resume), so it can neither stall others nor grow memory.
    /// </summary>
    [Range(1, 1_000_000, ErrorMessage = "Ws:SendQueueLimit must be between 1 and 1000000.")]
    public int SendQueueLimit { get; set; } = 1024;

    /// <summary>
    /// Bytes waiting to be written to one client (the data of queued messages and replies), a bound beside
    /// <see cref="SendQueueLimit"/>: 1024 frames of 64 KiB would be 64 MiB for one socket. A client that lets more pile
    /// up is closed with 1008 like one past the frame bound. An empty queue always takes one message, whatever its size.
    /// </summary>
    [Range(1024, 1024 * 1024 * 1024, ErrorMessage = "Ws:SendQueueBytes must be between 1024 and 1073741824.")]
    public int SendQueueBytes { get; set; } = 1024 * 1024;
}
