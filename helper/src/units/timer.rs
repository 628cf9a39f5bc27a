//! snapd's `timer:` schedules (`timeutil.ParseSchedule`) as systemd `OnCalendar=` lines, mapped as
//! snapd's `generateOnCalendarSchedules` does. A schedule is events separated by `,,`; an event is
//! weekday spans (`mon`, `mon-fri`, `mon1` the first Monday of the month, `fri5` the last Friday)
//! and clock spans (`10:00`, `10:00-12:00`, `10:00~12:00` a random time in the span, `/N` the span
//! cut into N), comma separated. Anything else is refused with what is wrong.

use std::hash::{BuildHasher, Hasher};

const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

#[derive(Debug, Clone, Copy, PartialEq)]
struct Weekday {
    day: usize,
    /// 1-5 (5 is the last week of the month); 0 every week.
    pos: u32,
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct Clock {
    start: u32, // minutes since midnight, 0..=1440
    end: u32,
    spread: bool,
    split: u32,
}

/// The `OnCalendar=` values of a schedule.
pub fn on_calendar(spec: &str) -> Result<Vec<String>, String> {
    if spec.trim().is_empty() {
        return Err("empty schedule".into());
    }
    let mut out = Vec::new();
    for event in spec.split(",,") {
        let (weeks, clocks) = parse_event(event)?;
        let days = day_specs(&weeks);
        let times: Vec<String> = clocks.iter().flat_map(start_times).collect();
        for d in &days {
            if times.is_empty() {
                out.push(d.clone());
            }
            for t in &times {
                out.push(format!("{d} {t}"));
            }
        }
    }
    Ok(out)
}

/// An event's week spans and clock spans.
type Event = (Vec<(Weekday, Weekday)>, Vec<Clock>);

fn parse_event(event: &str) -> Result<Event, String> {
    let mut weeks = Vec::new();
    let mut clocks = Vec::new();
    for item in event.split(',') {
        if item.is_empty() {
            return Err(format!("empty item in {event:?}"));
        }
        if item.as_bytes()[0].is_ascii_digit() {
            clocks.push(parse_clock(item)?);
        } else {
            weeks.push(parse_weeks(item)?);
        }
    }
    Ok((weeks, clocks))
}

fn parse_weekday(s: &str) -> Result<Weekday, String> {
    let (name, pos) = s.split_at(s.len().min(3));
    let day = DAYS
        .iter()
        .position(|d| *d == name)
        .ok_or_else(|| format!("{s:?} is not a weekday (mon … sun)"))?;
    let pos = match pos {
        "" => 0,
        p => match p.parse::<u32>() {
            Ok(n @ 1..=5) => n,
            _ => return Err(format!("{s:?}: the week of the month is 1 to 5")),
        },
    };
    Ok(Weekday { day, pos })
}

fn parse_weeks(s: &str) -> Result<(Weekday, Weekday), String> {
    match s.split_once('-') {
        Some((a, b)) => {
            let (a, b) = (parse_weekday(a)?, parse_weekday(b)?);
            if a.pos != 0 && b.pos != 0 {
                return Err(format!("{s:?}: only one end of a span may name a week"));
            }
            Ok((a, b))
        }
        None => {
            let w = parse_weekday(s)?;
            Ok((w, w))
        }
    }
}

fn parse_time(s: &str) -> Result<u32, String> {
    let bad = || format!("{s:?} is not a time (HH:MM)");
    let (h, m) = s.split_once(':').ok_or_else(bad)?;
    if h.is_empty() || h.len() > 2 || m.len() != 2 {
        return Err(bad());
    }
    let (h, m): (u32, u32) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    if h > 24 || m > 59 || (h == 24 && m != 0) {
        return Err(bad());
    }
    Ok(h * 60 + m)
}

fn parse_clock(s: &str) -> Result<Clock, String> {
    let (span, split) = match s.split_once('/') {
        Some((span, n)) => match n.parse::<u32>() {
            Ok(n @ 1..=1440) => (span, n),
            _ => return Err(format!("{s:?}: /N needs a count of 1 to 1440")),
        },
        None => (s, 0),
    };
    let (start, end, spread) = if let Some((a, b)) = span.split_once('~') {
        (parse_time(a)?, parse_time(b)?, true)
    } else if let Some((a, b)) = span.split_once('-') {
        (parse_time(a)?, parse_time(b)?, false)
    } else {
        if split != 0 {
            return Err(format!("{s:?}: /N needs a span (start-end)"));
        }
        let t = parse_time(span)?;
        (t, t, false)
    };
    Ok(Clock {
        start,
        end,
        spread,
        split,
    })
}

/// The start time of each piece of a clock span (snapd's `ClockSpans` and the choice of a random
/// moment for `~`, leaving five minutes at the end as snapd does).
fn start_times(c: &Clock) -> Vec<String> {
    let len = if c.end >= c.start {
        c.end - c.start
    } else {
        c.end + 1440 - c.start
    };
    let n = c.split.max(1);
    let piece = len / n;
    (0..n)
        .map(|i| {
            let mut when = c.start + i * piece;
            if c.spread {
                let room = if piece > 5 { piece - 5 } else { piece };
                if room > 0 {
                    when += (random() % u64::from(room)) as u32;
                }
            }
            let when = when % 1440;
            format!("{:02}:{:02}", when / 60, when % 60)
        })
        .collect()
}

fn random() -> u64 {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(u64::from(std::process::id()));
    h.finish()
}

fn abbrev(a: usize, b: usize) -> String {
    let mut names = Vec::new();
    let mut d = a;
    loop {
        let n = DAYS[d];
        names.push(format!("{}{}", n[..1].to_ascii_uppercase(), &n[1..]));
        if d == b {
            break;
        }
        d = (d + 1) % 7;
    }
    names.join(",")
}

fn range(a: u32, b: u32) -> String {
    format!("{a:02}..{b:02}")
}

/// The day parts of the calendar events (snapd's mapping of week spans, week positions included).
fn day_specs(weeks: &[(Weekday, Weekday)]) -> Vec<String> {
    let mut days = Vec::new();
    for (s, e) in weeks {
        let names = abbrev(s.day, e.day);
        if s.pos == 0 && e.pos == 0 {
            days.push(format!("{names} *-*-*"));
            continue;
        }
        let anchored_start = s.pos != 0;
        let pos = if anchored_start { s.pos } else { e.pos };
        let (start_day, end_day) = ((pos - 1) * 7 + 1, pos * 7);
        if s == e {
            if pos == 5 {
                days.push(format!("{names} *-*-{}", range(22, 31)));
            } else {
                days.push(format!("{names} *-*-{}", range(start_day, end_day)));
            }
            continue;
        }
        if anchored_start {
            match pos {
                4 | 5 => days.extend([
                    format!("*-*-{}", range(29, 31)),
                    format!("*-*-{}", range(1, 7)),
                ]),
                _ => days.push(format!("*-*-{}", range(start_day + 7, end_day + 7))),
            }
        } else {
            match pos {
                5 => days.push(format!("*-*-{}", range(29, 31))),
                1 => days.push(format!("*-*-{}", range(22, 31))),
                _ => days.push(format!("*-*-{}", range(start_day - 7, end_day - 7))),
            }
        }
        if start_day < 28 {
            days.push(format!("*-*-{}", range(start_day, end_day)));
        } else {
            days.push(format!("*-*-{}", range(start_day - 7, end_day - 7)));
        }
    }
    if days.is_empty() {
        days.push("*-*-*".into());
    }
    days
}
