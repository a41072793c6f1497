namespace ServerlessWs.Client;

/// <summary>What a call of the handler is about: something a client sent, or a change in its connection.</summary>
public enum UpstreamEventKind
{
    /// <summary>A client's <c>invoke</c> or <c>event</c> frame: <c>ce-type</c> is <c>serverlessws.user.&lt;event&gt;</c>.</summary>
    User,

    /// <summary>A lifecycle event (<c>connected</c>, <c>disconnected</c>, <c>takeover</c>): <c>ce-type</c> is <c>serverlessws.sys.&lt;name&gt;</c>.</summary>
    Lifecycle,

    /// <summary>A <c>ce-type</c> of neither family: a newer service than this library; answer it as the application sees fit.</summary>
    Other,
}

/// <summary>
/// The CloudEvents attributes of a verified handler call (docs/protocol.md §7). The service sets every one of them from
/// the connection, never from what the client sent, so <see cref="ClientId"/> and <see cref="UserId"/> can be trusted
/// once the signature is verified. The body (the client's <c>data</c>) is the request's body.
/// </summary>
/// <param name="Id"><c>ce-id</c>: unique per event and the same on every retry, the key for dropping duplicates.</param>
/// <param name="Type"><c>ce-type</c> as sent, e.g. <c>serverlessws.user.chat</c>.</param>
/// <param name="Source"><c>ce-source</c>: <c>/clients/&lt;clientId&gt;</c>.</param>
/// <param name="Time"><c>ce-time</c>: when the service took the event.</param>
/// <param name="ClientId"><c>ce-clientid</c>: the client it came from.</param>
/// <param name="ServerId"><c>ce-serverid</c>: the node that held the client's socket.</param>
/// <param name="UserId"><c>ce-userid</c>, percent-decoded: the token's subject when client authentication is on, else null.</param>
public sealed record UpstreamEvent(string Id, string Type, string Source, DateTimeOffset Time, string ClientId, string ServerId, string? UserId)
{
    /// <summary>The <c>ce-type</c> prefix of what a client sent (<c>invoke</c> and <c>event</c> frames).</summary>
    public const string UserTypePrefix = "serverlessws.user.";

    /// <summary>The <c>ce-type</c> prefix of lifecycle events.</summary>
    public const string LifecycleTypePrefix = "serverlessws.sys.";

    public UpstreamEventKind Kind =>
        Type.StartsWith(UserTypePrefix, StringComparison.Ordinal) ? UpstreamEventKind.User
        : Type.StartsWith(LifecycleTypePrefix, StringComparison.Ordinal) ? UpstreamEventKind.Lifecycle
        : UpstreamEventKind.Other;

    /// <summary>
    /// The event's name: the frame's <c>event</c> for <see cref="UpstreamEventKind.User"/> (<c>chat</c> for
    /// <c>serverlessws.user.chat</c>), the lifecycle name for <see cref="UpstreamEventKind.Lifecycle"/>, else the whole type.
    /// </summary>
    public string Name => Kind switch
    {
        UpstreamEventKind.User => Type[UserTypePrefix.Length..],
        UpstreamEventKind.Lifecycle => Type[LifecycleTypePrefix.Length..],
        _ => Type,
    };
}
