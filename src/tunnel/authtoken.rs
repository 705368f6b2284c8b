//! Finding the ngrok authtoken: the flag or `NGROK_AUTHTOKEN`, else the ngrok
//! agent's own config file, where `ngrok config add-authtoken` puts it.

use std::path::PathBuf;

/// Where the ngrok agent keeps its config file on this OS, newest layout first.
pub fn agent_config_paths() -> Vec<PathBuf> {
    let mut paths = Vec::new();
    if cfg!(windows) {
        paths.extend(dirs::data_local_dir().map(|d| d.join("ngrok").join("ngrok.yml")));
    } else {
        paths.extend(dirs::config_dir().map(|d| d.join("ngrok").join("ngrok.yml")));
    }
    // ngrok v2 kept it in ~/.ngrok2.
    paths.extend(dirs::home_dir().map(|h| h.join(".ngrok2").join("ngrok.yml")));
    paths
}

/// The authtoken in the first agent config file that has one.
pub fn from_agent_config() -> Option<(String, PathBuf)> {
    agent_config_paths().into_iter().find_map(|path| {
        let text = std::fs::read_to_string(&path).ok()?;
        parse(&text).map(|token| (token, path))
    })
}

/// Reads `agent.authtoken` (ngrok v3) or a top-level `authtoken` (v2) from
/// ngrok.yml, with a full YAML parser: any layout, quoting, comments or
/// anchors a user or ngrok writes are read as YAML says.
pub fn parse(yaml: &str) -> Option<String> {
    let docs = yaml_rust2::YamlLoader::load_from_str(yaml).ok()?;
    let doc = docs.first()?;
    [&doc["agent"]["authtoken"], &doc["authtoken"]]
        .into_iter()
        .find_map(|v| v.as_str().map(str::trim).filter(|t| !t.is_empty()))
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn reads_both_layouts() {
        let v3 = "version: \"3\"\nagent:\n  authtoken: 2abcDEF_ghi  # mine\n  region: eu\nendpoints: []\n";
        assert_eq!(parse(v3).as_deref(), Some("2abcDEF_ghi"));
        let v2 = "# ngrok v2\nauthtoken: 'xyz123'\nregion: us\n";
        assert_eq!(parse(v2).as_deref(), Some("xyz123"));
        let other_section = "version: 3\ntunnels:\n  web:\n    authtoken: nope\n";
        assert_eq!(parse(other_section), None);
        assert_eq!(parse("agent:\n  authtoken: \"\"\n"), None);
        assert_eq!(parse(""), None);
    }

    #[test]
    fn reads_any_yaml_layout() {
        let cases = [
            ("agent: { authtoken: flow123, region: eu }", Some("flow123")),
            ("agent:\n    authtoken: >-\n      folded456\n", Some("folded456")),
            ("---\nversion: \"3\"\nagent:\n\tauthtoken: tab\n", None),
            ("agent:\n  authtoken: \"with # hash\"\n", Some("with # hash")),
            ("agent:\n  # authtoken: commented\n  region: us\n", None),
            ("defaults: &d\n  authtoken: anchored\nagent: *d\n", Some("anchored")),
            ("agent: [not, a, map]\n", None),
            ("{{{ not yaml", None),
        ];
        for (yaml, want) in cases {
            assert_eq!(parse(yaml).as_deref(), want, "{yaml:?}");
        }
    }
}
