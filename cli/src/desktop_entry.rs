//! The few keys of a desktop entry that autostart reads (`[Desktop Entry]`: `Exec`, `Name`, `Icon`,
//! `Hidden`, `OnlyShowIn`, `NotShowIn`, `X-GNOME-Autostart-enabled`), and its `Exec` line as
//! arguments the way snapd's `desktopentry` makes them: field codes expanded (no files or URIs are
//! given at session start, so `%f %F %u %U` are empty), then split with the shell's quoting.

/// What autostart needs of a desktop file.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Entry {
    name: String,
    icon: String,
    exec: String,
    hidden: bool,
    gnome_enabled: bool,
    only_show_in: Option<Vec<String>>,
    not_show_in: Option<Vec<String>>,
}

impl Entry {
    /// The `[Desktop Entry]` group of `text`; other groups and unknown keys are skipped.
    pub(crate) fn parse(text: &str) -> Result<Entry, String> {
        let mut e = Entry {
            gnome_enabled: true,
            ..Entry::default()
        };
        let mut in_entry = false;
        let mut seen_entry = false;
        for line in text.lines().map(str::trim) {
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            if line.starts_with('[') {
                in_entry = line == "[Desktop Entry]";
                seen_entry |= in_entry;
                continue;
            }
            let Some((key, value)) = line.split_once('=') else {
                continue;
            };
            if !in_entry {
                continue;
            }
            let value = value.trim();
            let list = || {
                value
                    .split(';')
                    .filter(|v| !v.is_empty())
                    .map(str::to_string)
                    .collect()
            };
            match key.trim() {
                "Name" => e.name = value.to_string(),
                "Icon" => e.icon = value.to_string(),
                "Exec" => e.exec = value.to_string(),
                "Hidden" => e.hidden = value == "true",
                "X-GNOME-Autostart-enabled" => e.gnome_enabled = value == "true",
                "OnlyShowIn" => e.only_show_in = Some(list()),
                // snapd reads `NotShownIn`; the specification says `NotShowIn`.
                "NotShowIn" | "NotShownIn" => e.not_show_in = Some(list()),
                _ => {}
            }
        }
        if !seen_entry {
            return Err("no [Desktop Entry] group".into());
        }
        Ok(e)
    }

    /// The autostart specification's rules (and gnome-session's `X-GNOME-Autostart-enabled`)
    /// for a session whose `$XDG_CURRENT_DESKTOP` names `desktops`.
    pub(crate) fn should_autostart(&self, desktops: &[String]) -> bool {
        let any_of = |list: &[String]| desktops.iter().any(|d| list.contains(d));
        if self.hidden || (!self.gnome_enabled && desktops.iter().any(|d| d == "GNOME")) {
            return false;
        }
        if self.only_show_in.as_deref().is_some_and(|l| !any_of(l)) {
            return false;
        }
        !self.not_show_in.as_deref().is_some_and(any_of)
    }

    /// The `Exec` line as arguments, field codes expanded.
    pub(crate) fn exec_args(&self) -> Result<Vec<String>, String> {
        if self.exec.is_empty() {
            return Err("the desktop file has no Exec line".into());
        }
        let quote = |s: &str| format!("'{}'", s.replace('\'', "'\\''"));
        let mut line = String::new();
        let mut chars = self.exec.chars();
        while let Some(c) = chars.next() {
            if c != '%' {
                line.push(c);
                continue;
            }
            match chars.next() {
                Some('%') => line.push('%'),
                Some('i') if !self.icon.is_empty() => {
                    line.push_str("--icon ");
                    line.push_str(&quote(&self.icon));
                }
                Some('c') if !self.name.is_empty() => line.push_str(&quote(&self.name)),
                // Files and URIs (none at session start), the file's own location (none is
                // passed: the app gets no path of the user's folders this way), deprecated codes.
                _ => {}
            }
        }
        let args = shlex::split(&line).ok_or_else(|| format!("cannot split Exec={}", self.exec))?;
        if args.is_empty() {
            return Err(format!("Exec={} names no command", self.exec));
        }
        Ok(args)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(keys: &str) -> Entry {
        Entry::parse(&format!(
            "[Desktop Entry]\nName=My App\nIcon=my-icon\n{keys}\n[Desktop Action x]\nExec=other\n"
        ))
        .unwrap()
    }

    #[test]
    fn exec_is_split_with_field_codes_expanded() {
        let e = entry("Exec=foo --flag \"two words\" 'it''s' %U %i %c 100%% %k");
        assert_eq!(
            e.exec_args().unwrap(),
            [
                "foo",
                "--flag",
                "two words",
                "its",
                "--icon",
                "my-icon",
                "My App",
                "100%"
            ]
        );
        assert!(entry("Type=Application").exec_args().is_err());
        assert!(entry("Exec=foo \"unclosed").exec_args().is_err());
        assert!(Entry::parse("Exec=foo\n").is_err());
    }

    #[test]
    fn the_autostart_rules_hold() {
        let gnome = ["GNOME".to_string()];
        let kde = ["KDE".to_string()];
        assert!(entry("Exec=a").should_autostart(&gnome));
        assert!(!entry("Exec=a\nHidden=true").should_autostart(&gnome));
        assert!(!entry("Exec=a\nX-GNOME-Autostart-enabled=false").should_autostart(&gnome));
        assert!(entry("Exec=a\nX-GNOME-Autostart-enabled=false").should_autostart(&kde));
        assert!(!entry("Exec=a\nOnlyShowIn=KDE;XFCE;").should_autostart(&gnome));
        assert!(entry("Exec=a\nOnlyShowIn=KDE;XFCE;").should_autostart(&kde));
        assert!(!entry("Exec=a\nNotShowIn=GNOME;").should_autostart(&gnome));
        assert!(!entry("Exec=a\nNotShownIn=GNOME;").should_autostart(&gnome));
        assert!(entry("Exec=a\nNotShowIn=GNOME;").should_autostart(&kde));
    }
}
