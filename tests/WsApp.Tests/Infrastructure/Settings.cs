namespace ServerlessWs.App.Tests.Infrastructure;

/// <summary>Short-hand for a node's configuration overrides.</summary>
public static class Settings
{
    public static Dictionary<string, string?> Of(params (string Key, object Value)[] pairs) =>
        pairs.ToDictionary(p => p.Key, p => (string?)Convert.ToString(p.Value, System.Globalization.CultureInfo.InvariantCulture));
}
