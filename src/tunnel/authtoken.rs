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

/// Reads `agent.authtoken` (v3) or a top-level `authtoken` (v2) from ngrok.yml.
///
/// The file is YAML, but only this one scalar is needed, so a line reader
/// does: it understands the two layouts ngrok writes, comments and quotes.
pub fn parse(yaml: &str) -> Option<String> {
    let mut in_agent = false;
    for raw in yaml.lines() {
        let line = raw.split(" #").next().unwrap_or_default().trim_end();
        if line.trim().is_empty() || line.trim_start().starts_with('#') {
            continue;
        }
        let indented = line.starts_with([' ', '\t']);
        let (key, value) = match line.trim().split_once(':') {
            Some((k, v)) => (k.trim(), v.trim()),
            None => continue,
        };
        if !indented {
            in_agent = key == "agent";
        }
        if key == "authtoken" && (!indented || in_agent) {
            let value = value.trim_matches(|c| c == '"' || c == '\'');
            if !value.is_empty() {
                return Some(value.to_owned());
            }
        }
    }
    None
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
}
