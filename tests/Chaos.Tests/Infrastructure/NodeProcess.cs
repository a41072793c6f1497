using System.Diagnostics;
using System.Globalization;
using ServerlessWs.Tests.Infrastructure;

namespace ServerlessWs.Chaos.Tests.Infrastructure;

/// <summary>
/// A WsApp node as its own OS process (<c>dotnet WsApp.dll</c>, the build copied next to the tests), configured
/// through environment variables as the platform configures it, on 127.0.0.1 and a free port. It can be killed
/// (<c>SIGKILL</c>, nothing runs after) or terminated (<c>SIGTERM</c>, the host drains as on a scale-in).
/// </summary>
public sealed class NodeProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly OutputTail _output = new();

    private NodeProcess(Process process, string serverId, int port)
    {
        _process = process;
        ServerId = serverId;
        Port = port;
        _output.Follow(process);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    public string ServerId { get; }

    public int Port { get; }

    public int ProcessId => _process.Id;

    public Uri BaseUri => new($"http://127.0.0.1:{Port}");

    public Uri WsUri(string query) => new($"ws://127.0.0.1:{Port}/ws?{query}");

    public bool HasExited => _process.HasExited;

    /// <summary>How the process ended (kept after it is disposed); null while it runs.</summary>
    public int? ExitCode { get; private set; }

    /// <summary>The last lines the node wrote, for a failure message.</summary>
    public string Output => _output.ToString();

    /// <summary>Resident memory now, from <c>/proc</c>.</summary>
    public long RssBytes =>
        File.ReadLines($"/proc/{ProcessId}/status")
            .Where(line => line.StartsWith("VmRSS:", StringComparison.Ordinal))
            .Select(line => long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) * 1024)
            .Single();

    /// <summary>CPU time the process has used so far (user and system), from <c>/proc</c>.</summary>
    public TimeSpan CpuTime
    {
        get
        {
            // Fields 14 and 15 of /proc/<pid>/stat, counted after the command name's closing parenthesis.
            var stat = File.ReadAllText($"/proc/{ProcessId}/stat");
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            var ticks = long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
            // USER_HZ is 100 on every Linux this runs on.
            return TimeSpan.FromSeconds(ticks / 100.0);
        }
    }

    public static async Task<NodeProcess> StartAsync(RedisServer redis, string serverId, IReadOnlyDictionary<string, string> settings)
    {
        var port = RedisServer.FreePort();
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "WsApp.dll"));
        start.ArgumentList.Add("--urls");
        start.ArgumentList.Add($"http://127.0.0.1:{port}");
        start.Environment["Redis__ConnectionString"] = redis.ConnectionString;
        start.Environment["Ws__ServerId"] = serverId;
        start.Environment["Logging__LogLevel__Default"] = "Warning";
        foreach (var (key, value) in settings)
        {
            start.Environment[key.Replace(":", "__", StringComparison.Ordinal)] = value;
        }

        var node = new NodeProcess(Process.Start(start)!, serverId, port);
        try
        {
            await node.WaitUntilReadyAsync();
        }
        catch
        {
            await node.DisposeAsync();
            throw;
        }

        return node;
    }

    /// <summary>A crash: <c>SIGKILL</c>, so no close frame, no release, no drain.</summary>
    public async Task KillAsync()
    {
        _process.Kill(entireProcessTree: true);
        await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10));
        ExitCode = _process.ExitCode;
    }

    /// <summary>A scale-in: <c>SIGTERM</c>, then waits for the host to drain and exit.</summary>
    public async Task TerminateAsync(TimeSpan within)
    {
        using (var kill = Process.Start("kill", ["-TERM", ProcessId.ToString(CultureInfo.InvariantCulture)]))
        {
            await kill.WaitForExitAsync();
            if (kill.ExitCode != 0)
            {
                throw new InvalidOperationException($"kill -TERM {ProcessId} failed with {kill.ExitCode}");
            }
        }

        await _process.WaitForExitAsync().WaitAsync(within);
        ExitCode = _process.ExitCode;
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            await KillAsync();
        }

        _process.Dispose();
    }

    private async Task WaitUntilReadyAsync()
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (DateTime.UtcNow < deadline && !_process.HasExited)
        {
            try
            {
                using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(BaseUri, "/readyz"));
                request.Headers.ConnectionClose = true; // no pooled connection left to count as a socket
                using var response = await http.SendAsync(request);
                if (response.IsSuccessStatusCode)
                {
                    return;
                }
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
            {
                // Not listening (or not answering) yet.
            }

            await Task.Delay(100);
        }

        throw new InvalidOperationException($"Node {ServerId} did not become ready (exited: {_process.HasExited}). Output:\n{Output}");
    }
}
