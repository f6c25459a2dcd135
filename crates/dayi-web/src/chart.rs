//! Charts drawn on the server as SVG: readings over time with target lines
//! (the patient's blood pressure, glucose, lipids) and bars of rates (the
//! indicator dashboard). No script, so they print and work on any phone.

use std::fmt::Write;

/// One line of a chart: label, colour and (day, value) points in order.
pub struct Line<'a> {
    pub label: &'a str,
    pub color: &'a str,
    pub points: Vec<(String, f64)>,
}

const W: f64 = 640.0;
const H: f64 = 220.0;
const LEFT: f64 = 44.0;
const RIGHT: f64 = 12.0;
const TOP: f64 = 14.0;
const BOTTOM: f64 = 34.0;

fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// Lines over time; `targets` are dashed horizontal lines (value, label).
/// Days are spaced evenly by their order, as follow-ups are irregular.
pub fn lines(title: &str, unit: &str, lines: &[Line], targets: &[(f64, &str)], empty: &str) -> String {
    let mut days: Vec<&str> = lines.iter().flat_map(|l| l.points.iter().map(|p| p.0.as_str())).collect();
    days.sort_unstable();
    days.dedup();
    let values = lines.iter().flat_map(|l| l.points.iter().map(|p| p.1)).chain(targets.iter().map(|t| t.0));
    let (lo, hi) = values.fold((f64::MAX, f64::MIN), |(lo, hi), v| (lo.min(v), hi.max(v)));
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg class="chart" viewBox="0 0 {W} {H}" role="img" aria-label="{t}" xmlns="http://www.w3.org/2000/svg"><title>{t}</title>"#,
        t = esc(title)
    );
    if days.is_empty() {
        let _ = write!(
            svg,
            r#"<text x="{}" y="{}" text-anchor="middle" class="chart-empty">{}</text></svg>"#,
            W / 2.0,
            H / 2.0,
            esc(empty)
        );
        return svg;
    }
    let _ = write!(svg, r#"<text x="4" y="10" class="chart-axis">{}</text>"#, esc(unit));
    let pad = ((hi - lo) * 0.1).max(1.0);
    let (lo, hi) = ((lo - pad).max(0.0), hi + pad);
    let x = |i: usize| {
        if days.len() == 1 {
            (LEFT + W - RIGHT) / 2.0
        } else {
            LEFT + (W - LEFT - RIGHT) * i as f64 / (days.len() - 1) as f64
        }
    };
    let y = |v: f64| TOP + (H - TOP - BOTTOM) * (1.0 - (v - lo) / (hi - lo));
    for k in 0..=4 {
        let v = lo + (hi - lo) * f64::from(k) / 4.0;
        let _ = write!(
            svg,
            r#"<line x1="{LEFT}" x2="{}" y1="{y:.1}" y2="{y:.1}" class="chart-grid"/><text x="{}" y="{:.1}" text-anchor="end" class="chart-axis">{v:.0}</text>"#,
            W - RIGHT,
            LEFT - 4.0,
            y(v) + 4.0,
            y = y(v)
        );
    }
    for (v, label) in targets {
        let _ = write!(
            svg,
            r#"<line x1="{LEFT}" x2="{}" y1="{y:.1}" y2="{y:.1}" class="chart-target"/><text x="{}" y="{:.1}" text-anchor="end" class="chart-target-label">{}</text>"#,
            W - RIGHT,
            W - RIGHT,
            y(*v) - 3.0,
            esc(label),
            y = y(*v)
        );
    }
    let step = days.len().div_ceil(6).max(1);
    for (i, d) in days.iter().enumerate().filter(|(i, _)| i % step == 0 || *i == days.len() - 1) {
        let _ = write!(
            svg,
            r#"<text x="{:.1}" y="{}" text-anchor="middle" class="chart-axis">{}</text>"#,
            x(i),
            H - 14.0,
            esc(d.get(2..).unwrap_or(d))
        );
    }
    for (n, l) in lines.iter().enumerate() {
        let pts: Vec<String> = l
            .points
            .iter()
            .filter_map(|(d, v)| days.iter().position(|x| x == d).map(|i| format!("{:.1},{:.1}", x(i), y(*v))))
            .collect();
        let _ =
            write!(svg, r#"<polyline points="{}" fill="none" stroke="{}" stroke-width="2"/>"#, pts.join(" "), l.color);
        for p in &pts {
            let (cx, cy) = p.split_once(',').unwrap_or(("0", "0"));
            let _ = write!(svg, r#"<circle cx="{cx}" cy="{cy}" r="3" fill="{}"/>"#, l.color);
        }
        let _ = write!(
            svg,
            r#"<rect x="{}" y="{}" width="10" height="10" fill="{}"/><text x="{}" y="{}" class="chart-legend">{}</text>"#,
            LEFT + 110.0 * n as f64,
            H - 10.0,
            l.color,
            LEFT + 14.0 + 110.0 * n as f64,
            H - 1.0,
            esc(l.label)
        );
    }
    svg.push_str("</svg>");
    svg
}

/// Horizontal bars of rates (0–100 %) per label; `None` draws no bar.
pub fn bars(title: &str, rows: &[(String, Option<f64>)]) -> String {
    // Narrower than the line charts: three sit side by side on the dashboard.
    let (w, row_h, label_w) = (360.0, 26.0, 72.0);
    let h = TOP + row_h * rows.len().max(1) as f64 + 8.0;
    let full = w - label_w - 54.0;
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg class="chart" viewBox="0 0 {w} {h}" role="img" aria-label="{t}" xmlns="http://www.w3.org/2000/svg"><title>{t}</title>"#,
        t = esc(title)
    );
    for (i, (label, v)) in rows.iter().enumerate() {
        let top = TOP + row_h * i as f64;
        let _ = write!(
            svg,
            r#"<text x="{}" y="{:.1}" text-anchor="end" class="chart-axis">{}</text>"#,
            label_w - 6.0,
            top + 14.0,
            esc(label)
        );
        let _ = write!(svg, r#"<rect x="{label_w}" y="{top:.1}" width="{full:.1}" height="18" class="chart-track"/>"#);
        let shown = match v {
            Some(v) => {
                let _ = write!(
                    svg,
                    r#"<rect x="{label_w}" y="{top:.1}" width="{:.1}" height="18" class="chart-bar"/>"#,
                    full * v.clamp(0.0, 100.0) / 100.0
                );
                format!("{v:.1}%")
            }
            None => "—".to_string(),
        };
        let _ = write!(
            svg,
            r#"<text x="{:.1}" y="{:.1}" class="chart-axis">{shown}</text>"#,
            label_w + full + 6.0,
            top + 14.0
        );
    }
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_chart_draws_every_point_and_the_target() {
        let l = Line {
            label: "收缩压",
            color: "#c00",
            points: vec![("2026-01-02".into(), 150.0), ("2026-02-02".into(), 138.0)],
        };
        let svg = lines("血压", "mmHg", &[l], &[(140.0, "140")], "暂无数据");
        assert_eq!(svg.matches("<circle").count(), 2);
        assert!(svg.contains("chart-target") && svg.contains("26-02-02"), "{svg}");
        assert!(lines("空", "", &[], &[], "暂无数据").contains("暂无数据"));
    }

    #[test]
    fn bars_scale_to_the_rate() {
        let svg = bars("控制率", &[("东村".into(), Some(50.0)), ("西村".into(), None)]);
        assert_eq!(svg.matches("chart-bar").count(), 1);
        assert!(svg.contains("50.0%") && svg.contains("—"));
    }
}
