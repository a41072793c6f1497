namespace ServerlessWs.Tests.Infrastructure;

/// <summary>Polls a condition that another thread makes true, bounded so that a hang fails fast.</summary>
public static class Eventually
{
    public static readonly TimeSpan DefaultWait = TimeSpan.FromSeconds(10);

    public static async Task TrueAsync(Func<Task<bool>> condition, TimeSpan? within = null, string? because = null)
    {
        var deadline = DateTime.UtcNow + (within ?? DefaultWait);
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                Assert.Fail(because ?? "The condition did not become true in time.");
            }

            await Task.Delay(20);
        }
    }

    public static Task TrueAsync(Func<bool> condition, TimeSpan? within = null, string? because = null) =>
        TrueAsync(() => Task.FromResult(condition()), within, because);
}
