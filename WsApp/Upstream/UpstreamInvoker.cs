using Microsoft.Extensions.Options;
using ServerlessWs.Core.Options;
using ServerlessWs.Core.Protocol;
using ServerlessWs.Core.Telemetry;
using ServerlessWs.Core.Upstream;

namespace ServerlessWs.App.Upstream;

/// <summary>
/// Calls the application's handler for a client's <c>invoke</c> (docs/protocol.md §7): one signed CloudEvents
/// request, at most <c>Upstream:MaxInFlight</c> at once on this node, bounded by <c>Upstream:TimeoutSeconds</c>
/// (the wait for a call slot included). A slow handler holds only the invokes waiting on it.
/// </summary>
internal sealed partial class UpstreamInvoker(
    IHttpClientFactory http,
    IOptions<UpstreamOptions> upstream,
    IOptions<WsOptions> ws,
    TimeProvider time,
    ILogger<UpstreamInvoker> logger,
    UpstreamEventLog? events = null) : IDisposable
{
    /// <summary>The named <see cref="HttpClient"/> the handler is called with (its timeout is this class's own).</summary>
    public const string ClientName = "upstream";

    private readonly UpstreamOptions _options = upstream.Value;
    private readonly SemaphoreSlim _slots = new(upstream.Value.MaxInFlight, upstream.Value.MaxInFlight);

    public bool IsConfigured => _options.IsConfigured;

    public void Dispose() => _slots.Dispose();

    public UpstreamOptions Options => _options;

    /// <summary>
    /// Where a client's <c>event</c> is stored for the dispatcher; null in embedded mode (no Redis), where durable
    /// events are refused <c>not-configured</c>: an in-memory store would lose them with the process.
    /// </summary>
    public UpstreamEventLog? Events => events;

    /// <summary>Calls the handler with <paramref name="data"/> as the body; the outcome says what to answer the client.</summary>
    public async Task<InvokeOutcome> InvokeAsync(string eventName, string clientId, string? userId, byte[] data)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(_options.TimeoutSeconds), time);
        var ceId = Guid.NewGuid().ToString("N");
        try
        {
            await _slots.WaitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            Timeout(logger, eventName, clientId);
            WsMetrics.UpstreamCalls.Add(1, Kind, new("outcome", "timeout"));
            return InvokeOutcome.TimedOut;
        }

        // The call's own time, from the request sent (a slot held) to the answer read, by outcome.
        var started = time.GetTimestamp();
        var outcome = await CallAsync(ceId, eventName, clientId, userId, data, timeout);
        var tag = new KeyValuePair<string, object?>("outcome", outcome.Data is not null ? "ok" : outcome.ErrorCode == ErrorCodes.UpstreamTimeout ? "timeout" : "failed");
        WsMetrics.UpstreamCalls.Add(1, Kind, tag);
        WsMetrics.UpstreamLatency.Record(time.GetElapsedTime(started).TotalMilliseconds, Kind, tag);
        return outcome;
    }

    private static readonly KeyValuePair<string, object?> Kind = new("kind", "invoke");

    private async Task<InvokeOutcome> CallAsync(string ceId, string eventName, string clientId, string? userId, byte[] data, CancellationTokenSource timeout)
    {
        try
        {
            using var request = UpstreamRequest.Create(_options, ceId, eventName, clientId, ws.Value.ServerId, userId, time.GetUtcNow(), data);
            using var response = await http.CreateClient(ClientName).SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token);
            if (!response.IsSuccessStatusCode)
            {
                Failed(logger, eventName, clientId, (int)response.StatusCode);
                return InvokeOutcome.Failed($"The handler answered {(int)response.StatusCode}.");
            }

            return await ReadResultAsync(response, eventName, clientId, timeout.Token);
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested)
        {
            Timeout(logger, eventName, clientId);
            return InvokeOutcome.TimedOut;
        }
        catch (HttpRequestException e)
        {
            Unreachable(logger, eventName, clientId, e);
            return InvokeOutcome.Failed("The handler cannot be reached.");
        }
        finally
        {
            _slots.Release();
        }
    }

    /// <summary>
    /// The handler's body is the result's <c>data</c>: one JSON value of at most <c>Ws:MaxMessageBytes</c> (empty
    /// means <c>null</c>). Anything else is the handler's failure, not the client's.
    /// </summary>
    private async Task<InvokeOutcome> ReadResultAsync(HttpResponseMessage response, string eventName, string clientId, CancellationToken cancellationToken)
    {
        var limit = ws.Value.MaxMessageBytes;
        await using var body = await response.Content.ReadAsStreamAsync(cancellationToken);
        if (await MessageData.ReadAsync(body, limit, cancellationToken) is not { } result)
        {
            Failed(logger, eventName, clientId, (int)response.StatusCode);
            return InvokeOutcome.Failed($"The handler's answer is over {limit} bytes.");
        }

        if (result.Length == 0)
        {
            return InvokeOutcome.Result("null"u8.ToArray());
        }

        // The result goes out verbatim inside a frame, as an admin API body does.
        var problem = MessageData.Check(result);
        if (problem != MessageData.Problem.None)
        {
            Failed(logger, eventName, clientId, (int)response.StatusCode);
        }

        return problem switch
        {
            MessageData.Problem.NotUtf8 => InvokeOutcome.Failed("The handler's answer is not UTF-8."),
            MessageData.Problem.NotJson => InvokeOutcome.Failed("The handler's answer is not one JSON value."),
            _ => InvokeOutcome.Result(result),
        };
    }

    [LoggerMessage(1301, LogLevel.Warning, "Upstream handler for {Event} of {ClientId} answered {Status}")]
    private static partial void Failed(ILogger logger, string @event, string clientId, int status);

    [LoggerMessage(1302, LogLevel.Warning, "Upstream handler for {Event} of {ClientId} did not answer in time")]
    private static partial void Timeout(ILogger logger, string @event, string clientId);

    [LoggerMessage(1303, LogLevel.Warning, "Upstream handler for {Event} of {ClientId} cannot be reached")]
    private static partial void Unreachable(ILogger logger, string @event, string clientId, Exception exception);
}

/// <summary>What an <c>invoke</c> came to: the handler's JSON body, or why there is none.</summary>
internal sealed record InvokeOutcome(byte[]? Data, string? ErrorCode, string? ErrorMessage)
{
    public static InvokeOutcome TimedOut { get; } = new(null, Core.Protocol.ErrorCodes.UpstreamTimeout, "The handler did not answer in time.");

    public static InvokeOutcome Result(byte[] data) => new(data, null, null);

    public static InvokeOutcome Failed(string message) => new(null, Core.Protocol.ErrorCodes.UpstreamFailed, message);
}
