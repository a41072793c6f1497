namespace ServerlessWs.Chaos.Tests;

/// <summary>
/// The short variant runs in ./test.sh within a few minutes; <c>CHAOS_LONG=1</c> runs the long one (more clients,
/// more rounds, longer load). Every loop stays bounded in count and time either way.
/// </summary>
public static class ChaosSettings
{
    public static bool LongVariant => Environment.GetEnvironmentVariable("CHAOS_LONG") == "1";

    public static int Pick(int shortValue, int longValue) => LongVariant ? longValue : shortValue;
}
