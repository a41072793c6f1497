namespace ServerlessWs.Core.Sessions;

/// <summary>
/// The coordination store could not be reached (or could not answer in time): the one failure callers treat as an
/// outage (docs/design.md invariant 4: sockets stay open, sends answer <c>unavailable</c>, admin routes 503). Only
/// the Redis implementations throw it; any other exception is a bug and must not be reported as an outage.
/// </summary>
public sealed class StoreUnavailableException : Exception
{
    public StoreUnavailableException()
        : this("The coordination store cannot be reached.")
    {
    }

    public StoreUnavailableException(string message)
        : base(message)
    {
    }

    public StoreUnavailableException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
