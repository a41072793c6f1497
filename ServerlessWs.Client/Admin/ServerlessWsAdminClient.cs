using System.Net;
using System.Net.Http.Json;
using System.Runtime.CompilerServices;
using System.Text.Json;

namespace ServerlessWs.Client;

/// <summary>
/// A typed client of the admin HTTP API (docs/protocol.md §6), one method per route. Register it with
/// <see cref="AdminClientServiceCollectionExtensions.AddServerlessWsAdminClient"/>, which gives it an
/// <see cref="HttpClient"/> from <c>IHttpClientFactory</c> with the base address and the function key. An error answer
/// is thrown as an <see cref="AdminApiException"/> (a subclass per documented status) carrying its problem details.
/// </summary>
public sealed class ServerlessWsAdminClient(HttpClient http)
{
    /// <summary>The header the Functions host reads a function key from.</summary>
    public const string FunctionKeyHeader = "x-functions-key";

    /// <summary>How much of an error answer is read for its problem details; the rest is not needed to say what went wrong.</summary>
    private const int MaxProblemBytes = 64 * 1024;

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    /// <summary>The live servers (those whose lease has not expired).</summary>
    public async Task<IReadOnlyList<ServerView>> ListServersAsync(CancellationToken cancellationToken = default) =>
        await GetAsync<ServerView[]>("servers", cancellationToken).ConfigureAwait(false);

    /// <summary>Fleet totals: servers, connections, messages routed, takeovers, stale entries removed.</summary>
    public Task<StatsView> GetStatsAsync(CancellationToken cancellationToken = default) =>
        GetAsync<StatsView>("stats", cancellationToken);

    /// <summary>A known client: its owner server (null when disconnected), epoch and connect time. Unknown: <see cref="AdminNotFoundException"/>.</summary>
    public Task<ClientView> GetClientAsync(string clientId, CancellationToken cancellationToken = default) =>
        GetAsync<ClientView>("clients/" + Segment(clientId), cancellationToken);

    /// <summary>
    /// One page of connected clients in id order. <paramref name="cursor"/> is the previous page's
    /// <see cref="ClientPage.NextCursor"/>; <paramref name="limit"/> 1-1000 (the API's default is 100);
    /// <paramref name="server"/> keeps one server's clients.
    /// </summary>
    public Task<ClientPage> ListClientsAsync(string? server = null, string? cursor = null, int? limit = null, CancellationToken cancellationToken = default)
    {
        var query = new List<string>(3);
        if (server is not null)
        {
            query.Add("server=" + Uri.EscapeDataString(server));
        }

        if (cursor is not null)
        {
            query.Add("cursor=" + Uri.EscapeDataString(cursor));
        }

        if (limit is { } l)
        {
            query.Add("limit=" + l.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }

        return GetAsync<ClientPage>(query.Count == 0 ? "clients" : "clients?" + string.Join('&', query), cancellationToken);
    }

    /// <summary>
    /// Every connected client, page after page (<see cref="ListClientsAsync"/>). An id connected for the whole walk
    /// comes exactly once, whatever connects or leaves meanwhile. The cursor is the last id of a page, so it must move
    /// forward in id order: an answer whose cursor does not is thrown rather than walked forever.
    /// </summary>
    public async IAsyncEnumerable<ClientListItem> ListAllClientsAsync(
        string? server = null, int? pageSize = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        string? cursor = null;
        do
        {
            var page = await ListClientsAsync(server, cursor, pageSize, cancellationToken).ConfigureAwait(false);
            foreach (var item in page.Items)
            {
                yield return item;
            }

            if (page.NextCursor is { } next && cursor is not null && string.CompareOrdinal(next, cursor) <= 0)
            {
                throw new AdminApiException(HttpStatusCode.OK, null, "Cursor did not advance", $"The page after '{cursor}' gave the cursor '{next}'.");
            }

            cursor = page.NextCursor;
        }
        while (cursor is not null);
    }

    /// <summary>
    /// Sends <paramref name="data"/> (serialized as JSON, web defaults) to one client, from <c>admin</c>: logged before
    /// delivery and replayed on resume. <c>delivered</c> when it is connected, <c>queued</c> when it may resume;
    /// an unknown id is <see cref="AdminNotFoundException"/>.
    /// </summary>
    public Task<SendResult> SendToClientAsync<T>(string clientId, T data, CancellationToken cancellationToken = default) =>
        PostAsync("clients/" + Segment(clientId) + "/messages", data, cancellationToken);

    /// <summary>Sends <paramref name="data"/> once to the group's log, for every member; a group with no members is <see cref="AdminNotFoundException"/>.</summary>
    public Task<SendResult> SendToGroupAsync<T>(string group, T data, CancellationToken cancellationToken = default) =>
        PostAsync("groups/" + Segment(group) + "/messages", data, cancellationToken);

    /// <summary>Sends <paramref name="data"/> to every connected client; <see cref="SendResult.Recipients"/> is how many were connected.</summary>
    public Task<SendResult> BroadcastAsync<T>(T data, CancellationToken cancellationToken = default) =>
        PostAsync("broadcast", data, cancellationToken);

    /// <summary>Closes the client's socket with 4001, on whatever node holds it; one that is not connected is <see cref="AdminNotFoundException"/>.</summary>
    public async Task CloseClientAsync(string clientId, CancellationToken cancellationToken = default)
    {
        using var response = await http.DeleteAsync(new Uri("clients/" + Segment(clientId), UriKind.Relative), cancellationToken).ConfigureAwait(false);
        await EnsureSuccessAsync(response, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// One page of the upstream dead letters, oldest first (docs/protocol.md §7): <paramref name="after"/> is the
    /// previous page's <see cref="DeadLetterPage.NextAfter"/>; <paramref name="limit"/> 1-1000 (the API's default is 100).
    /// </summary>
    public Task<DeadLetterPage> ListDeadLettersAsync(string? after = null, int? limit = null, CancellationToken cancellationToken = default)
    {
        var query = new List<string>(2);
        if (after is not null)
        {
            query.Add("after=" + Uri.EscapeDataString(after));
        }

        if (limit is { } l)
        {
            query.Add("limit=" + l.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }

        return GetAsync<DeadLetterPage>(query.Count == 0 ? "upstream/dead-letters" : "upstream/dead-letters?" + string.Join('&', query), cancellationToken);
    }

    /// <summary>Moves a dead letter back to be delivered again, with its ce-id; an unknown id is <see cref="AdminNotFoundException"/>.</summary>
    public async Task<ReplayResult> ReplayDeadLetterAsync(string id, CancellationToken cancellationToken = default)
    {
        using var response = await http.PostAsync(new Uri("upstream/dead-letters/" + Segment(id) + "/replay", UriKind.Relative), content: null, cancellationToken).ConfigureAwait(false);
        return await ReadAsync<ReplayResult>(response, cancellationToken).ConfigureAwait(false);
    }

    private async Task<T> GetAsync<T>(string path, CancellationToken cancellationToken)
    {
        using var response = await http.GetAsync(new Uri(path, UriKind.Relative), cancellationToken).ConfigureAwait(false);
        return await ReadAsync<T>(response, cancellationToken).ConfigureAwait(false);
    }

    private async Task<SendResult> PostAsync<T>(string path, T data, CancellationToken cancellationToken)
    {
        using var content = JsonContent.Create(data, options: Json);
        using var response = await http.PostAsync(new Uri(path, UriKind.Relative), content, cancellationToken).ConfigureAwait(false);
        return await ReadAsync<SendResult>(response, cancellationToken).ConfigureAwait(false);
    }

    private static async Task<T> ReadAsync<T>(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        await EnsureSuccessAsync(response, cancellationToken).ConfigureAwait(false);
        return await response.Content.ReadFromJsonAsync<T>(Json, cancellationToken).ConfigureAwait(false)
            ?? throw new AdminApiException(response.StatusCode, null, "Empty answer", "The admin API answered success with no body.");
    }

    /// <summary>Throws the <see cref="AdminApiException"/> for an error answer, with the problem details it carries (if any).</summary>
    private static async Task EnsureSuccessAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        if (response.IsSuccessStatusCode)
        {
            return;
        }

        Problem? problem = null;
        if (response.Content.Headers.ContentType?.MediaType is "application/problem+json" or "application/json")
        {
            var stream = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
            await using (stream.ConfigureAwait(false))
            {
                var buffer = new byte[MaxProblemBytes];
                var length = 0;
                int read;
                while (length < buffer.Length && (read = await stream.ReadAsync(buffer.AsMemory(length), cancellationToken).ConfigureAwait(false)) > 0)
                {
                    length += read;
                }

                try
                {
                    problem = JsonSerializer.Deserialize<Problem>(buffer.AsSpan(0, length), Json);
                }
                catch (JsonException)
                {
                    // Not problem details after all (or cut at the bound): the status alone says what went wrong.
                }
            }
        }

        throw AdminApiException.For(response.StatusCode, problem?.Type, problem?.Title ?? response.ReasonPhrase, problem?.Detail);
    }

    /// <summary>A route segment: ids outside the id rule are the API's to refuse (400), but they must reach it as one segment.</summary>
    private static string Segment(string value)
    {
        ArgumentException.ThrowIfNullOrEmpty(value);
        return Uri.EscapeDataString(value);
    }

    private sealed record Problem(string? Type, string? Title, int? Status, string? Detail);
}
