using ServerlessWs.Core.Sessions;
using ServerlessWs.Core.Upstream;

namespace ServerlessWs.Functions.Upstream;

/// <summary>
/// One dispatcher's hold on a partition (or on the lifecycle reader): taken and renewed every third of
/// <c>Upstream:LeaseSeconds</c>, and trusted only until the last renewal's time to live runs out by this process's
/// clock, counted from before the renewal was sent, so the holder stops before Redis can hand the lease to another.
/// </summary>
internal sealed class PartitionLease(UpstreamEventLog log, int? partition, string token, TimeSpan ttl, TimeProvider time)
{
    private long _heldUntil;
    private volatile bool _taken;

    /// <summary>Whether this process may read and acknowledge the partition now.</summary>
    public bool IsHeld => time.GetTimestamp() < Interlocked.Read(ref _heldUntil);

    /// <summary>Set when the lease was (re)taken after a gap: entries others (or this one) left pending must be claimed first.</summary>
    public bool TakeFresh()
    {
        var fresh = _taken;
        _taken = false;
        return fresh;
    }

    /// <summary>Takes or renews the lease; false when another holds it (or the store cannot say).</summary>
    public async Task<bool> RenewAsync()
    {
        var wasHeld = IsHeld;
        var sent = time.GetTimestamp();
        bool held;
        try
        {
            held = await log.HoldAsync(partition, token, ttl);
        }
        catch (StoreUnavailableException)
        {
            // Kept only until the last renewal runs out: past that, Redis may have given it to another.
            return IsHeld;
        }

        if (!held)
        {
            Interlocked.Exchange(ref _heldUntil, 0);
            return false;
        }

        Interlocked.Exchange(ref _heldUntil, sent + (long)(ttl.TotalSeconds * time.TimestampFrequency));
        if (!wasHeld)
        {
            _taken = true;
        }

        return true;
    }

    /// <summary>Gives the lease back (a stopping dispatcher), so another takes over at once.</summary>
    public async Task ReleaseAsync()
    {
        Interlocked.Exchange(ref _heldUntil, 0);
        try
        {
            await log.HoldAsync(partition, token, TimeSpan.Zero);
        }
        catch (StoreUnavailableException)
        {
            // It runs out by itself.
        }
    }
}
