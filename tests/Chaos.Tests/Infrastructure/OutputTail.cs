using System.Diagnostics;

namespace ServerlessWs.Chaos.Tests.Infrastructure;

/// <summary>The last 200 lines a child process wrote (stdout and stderr), for the message of a test that fails on it.</summary>
internal sealed class OutputTail
{
    private const int MaxLines = 200;
    private readonly Queue<string> _lines = new();

    /// <summary>Keeps what <paramref name="process"/> writes from now on (call before it starts reading).</summary>
    public void Follow(Process process)
    {
        process.OutputDataReceived += (_, line) => Keep(line.Data);
        process.ErrorDataReceived += (_, line) => Keep(line.Data);
    }

    public override string ToString()
    {
        lock (_lines)
        {
            return string.Join('\n', _lines);
        }
    }

    private void Keep(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_lines)
        {
            _lines.Enqueue(line);
            if (_lines.Count > MaxLines)
            {
                _lines.Dequeue();
            }
        }
    }
}
