//! `--plot FILE.svg|FILE.png`: one panel per series (the first [`MAX_PANELS`]), showing what the test judged (the net
//! level; for a delta series its running sum) with the warm-up shaded, a jump marked, and
//! the fitted Theil–Sen line over the judged rounds (red: leak, green: no leak).
//!
//! Text is laid out with the Hack font compiled into the binary (from
//! `epaint_default_fonts`), so a PNG needs no font installed on the machine; an SVG names
//! the `monospace` family and is rendered by whatever views it.

use crate::rounds::series::Series;
use crate::rounds::trend::{fmt_num, fmt_p, Analysis, Kind, Verdict};
use crate::Error;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::FontStyle;
use std::path::Path;
use std::sync::Once;

/// Width of the picture, in pixels.
const WIDTH: u32 = 1000;
/// Height of one panel.
const PANEL_HEIGHT: u32 = 320;
/// More points than this are drawn as per-column ranges and medians.
const MAX_DRAWN: usize = 1500;
/// The font family every text uses.
const FAMILY: &str = "monospace";
/// At most this many series are drawn (the first ones read), so that the picture and the
/// memory a PNG takes stay bounded.
pub const MAX_PANELS: usize = 16;

/// The output kinds, by file extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlotKind {
    /// `.svg`
    Svg,
    /// `.png`
    Png,
}

/// The flag and file, the "input" of every error here.
fn flag(path: &Path) -> String {
    format!("--plot {}", path.display())
}

/// The kind a path asks for, or an error naming the extensions.
pub fn kind_of(path: &Path) -> Result<PlotKind, Error> {
    match path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("svg") => Ok(PlotKind::Svg),
        Some("png") => Ok(PlotKind::Png),
        _ => Err(Error::at(
            &flag(path),
            None,
            "the file name must end in .svg or .png",
        )),
    }
}

fn register_font() {
    static FONT: Once = Once::new();
    FONT.call_once(|| {
        // The bytes are a valid TrueType font compiled in; a failure would show as an
        // error from the first text drawn, not as a panic here.
        let _ = plotters::style::register_font(
            FAMILY,
            FontStyle::Normal,
            epaint_default_fonts::HACK_REGULAR,
        );
    });
}

/// Draws the series into `path` (SVG or PNG by its extension). An error names `--plot` and
/// the file.
pub fn draw(path: &Path, series: &[(&Series, &Analysis)]) -> Result<(), Error> {
    register_font();
    let fail = |e: &dyn std::fmt::Display| Error::at(&flag(path), None, e.to_string());
    let series = &series[..series.len().min(MAX_PANELS)];
    let panels = series.len().max(1) as u32;
    let size = (WIDTH, PANEL_HEIGHT * panels);
    match kind_of(path)? {
        PlotKind::Svg => {
            let root = SVGBackend::new(path, size).into_drawing_area();
            draw_on(&root, series).map_err(|e| fail(&e))?;
            root.present().map_err(|e| fail(&e))
        }
        PlotKind::Png => {
            let mut buf = vec![255u8; (size.0 * size.1 * 3) as usize];
            {
                let root = BitMapBackend::with_buffer(&mut buf, size).into_drawing_area();
                draw_on(&root, series).map_err(|e| fail(&e))?;
                root.present().map_err(|e| fail(&e))?;
            }
            write_png(path, size, &buf).map_err(|e| fail(&e))
        }
    }
}

/// The picture as an 8-bit RGB PNG file.
fn write_png(path: &Path, (w, h): (u32, u32), rgb: &[u8]) -> Result<(), png::EncodingError> {
    let file = std::fs::File::create(path)?;
    let mut enc = png::Encoder::new(std::io::BufWriter::new(file), w, h);
    enc.set_color(png::ColorType::Rgb);
    enc.set_depth(png::BitDepth::Eight);
    let mut writer = enc.write_header()?;
    writer.write_image_data(rgb)?;
    writer.finish()
}

fn draw_on<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    series: &[(&Series, &Analysis)],
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    root.fill(&WHITE)?;
    if series.is_empty() {
        root.draw(&Text::new(
            "no series read",
            (20, 20),
            (FAMILY, 16).into_font(),
        ))?;
        return Ok(());
    }
    let areas = root.split_evenly((series.len(), 1));
    for (area, (s, a)) in areas.iter().zip(series) {
        panel(area, s, a)?;
    }
    Ok(())
}

/// What is drawn for one series: the judged net level, decimated.
struct Curve {
    /// (round, level) points, or per-column medians.
    line: Vec<(f64, f64)>,
    /// Per-column (round, low, high) when decimated.
    ranges: Vec<(f64, f64, f64)>,
    x: (f64, f64),
    y: (f64, f64),
}

fn curve(s: &Series) -> Curve {
    // A running sum can overflow to infinity on absurd input; such points are not drawn.
    let points: Vec<(f64, f64)> = s
        .as_ref()
        .net_levels()
        .filter(|(x, y)| x.is_finite() && y.is_finite())
        .collect();
    let mut c = Curve {
        line: Vec::new(),
        ranges: Vec::new(),
        x: (f64::INFINITY, f64::NEG_INFINITY),
        y: (f64::INFINITY, f64::NEG_INFINITY),
    };
    for &(x, y) in &points {
        c.x = (c.x.0.min(x), c.x.1.max(x));
        c.y = (c.y.0.min(y), c.y.1.max(y));
    }
    if points.len() <= MAX_DRAWN {
        c.line = points;
    } else {
        let cols = MAX_DRAWN / 2;
        for k in 0..cols {
            let chunk = &points[k * points.len() / cols..(k + 1) * points.len() / cols];
            let mut ys: Vec<f64> = chunk.iter().map(|p| p.1).collect();
            ys.sort_unstable_by(f64::total_cmp);
            let (Some(&lo), Some(&hi)) = (ys.first(), ys.last()) else {
                continue;
            };
            let x = chunk[chunk.len() / 2].0;
            c.ranges.push((x, lo, hi));
            c.line.push((x, ys[ys.len() / 2]));
        }
    }
    if !c.x.0.is_finite() {
        c.x = (0.0, 1.0);
        c.y = (0.0, 1.0);
    }
    if c.x.1 <= c.x.0 {
        c.x.1 = c.x.0 + 1.0;
    }
    // A flat series still needs a visible band around it.
    let pad = ((c.y.1 - c.y.0) * 0.08).max(c.y.1.abs().max(1.0) * 0.01);
    c.y = (c.y.0 - pad, c.y.1 + pad);
    c
}

fn caption(s: &Series, a: &Analysis) -> String {
    let what = match (s.kind, s.baseline_source.is_some()) {
        (Kind::Delta, true) => "running sum of net deltas",
        (Kind::Delta, false) => "running sum of deltas",
        (Kind::Level, true) => "net level",
        (Kind::Level, false) => "level",
    };
    let verdict = match a.verdict {
        Verdict::Leak => "LEAK".to_string(),
        Verdict::NoLeak => "no leak".to_string(),
        Verdict::Insufficient => "insufficient".to_string(),
    };
    let mut t = format!("{} ({what}): {verdict}", s.name);
    if let Some(g) = a.growth_per_round {
        let unit = if s.unit.is_empty() { "" } else { &s.unit };
        t.push_str(&format!(", {} {unit}/round", fmt_num(g)));
    }
    if let Some(p) = a.p_value {
        t.push_str(&format!(", {}", fmt_p(p)));
    }
    t
}

fn panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    s: &Series,
    a: &Analysis,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let c = curve(s);
    let mut chart = ChartBuilder::on(area)
        .caption(caption(s, a), (FAMILY, 16).into_font())
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(64)
        .build_cartesian_2d(c.x.0..c.x.1, c.y.0..c.y.1)?;
    let y_desc = if s.unit.is_empty() {
        String::from("value")
    } else {
        s.unit.clone()
    };
    chart
        .configure_mesh()
        .x_desc("round")
        .y_desc(y_desc)
        .label_style((FAMILY, 12).into_font())
        .axis_desc_style((FAMILY, 13).into_font())
        .light_line_style(RGBColor(246, 246, 246))
        .x_label_formatter(&|v| fmt_num(*v))
        .y_label_formatter(&|v| fmt_num(*v))
        .draw()?;

    // Warm-up: the rounds before the first judged point.
    if a.warmup_points > 0 && a.warmup_points <= s.rounds.len() {
        let end = s.rounds[a.warmup_points.min(s.rounds.len() - 1)];
        chart.draw_series(std::iter::once(Rectangle::new(
            [(c.x.0, c.y.0), (end, c.y.1)],
            RGBColor(225, 225, 225).mix(0.6).filled(),
        )))?;
        chart.draw_series(std::iter::once(Text::new(
            "warm-up",
            (c.x.0, c.y.1),
            (FAMILY, 12).into_font().color(&RGBColor(90, 90, 90)),
        )))?;
    }
    let blue = RGBColor(31, 119, 180);
    chart.draw_series(
        c.ranges
            .iter()
            .map(|&(x, lo, hi)| PathElement::new(vec![(x, lo), (x, hi)], blue.mix(0.25))),
    )?;
    chart.draw_series(LineSeries::new(
        c.line.iter().copied(),
        blue.stroke_width(1),
    ))?;
    if c.line.len() <= 200 {
        chart.draw_series(c.line.iter().map(|&p| Circle::new(p, 2, blue.filled())))?;
    }
    if let Some(step) = a.step {
        chart.draw_series(std::iter::once(PathElement::new(
            vec![(step.round, c.y.0), (step.round, c.y.1)],
            RGBColor(255, 127, 14).stroke_width(2),
        )))?;
    }
    if let (Some(slope), Some(icpt), Some(x0), Some(x1)) =
        (a.growth_per_round, a.intercept, a.first_round, a.last_round)
    {
        let (y0, y1) = (icpt + slope * x0, icpt + slope * x1);
        if !(y0.is_finite() && y1.is_finite()) {
            return Ok(());
        }
        let color = match a.verdict {
            Verdict::Leak => RGBColor(214, 39, 40),
            _ => RGBColor(44, 160, 44),
        };
        chart.draw_series(LineSeries::new([(x0, y0), (x1, y1)], color.stroke_width(3)))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_svg_and_png_with_text() {
        use crate::rounds::filter::{Filter, Options};
        use crate::rounds::print::Discard;
        let mut f = Filter::new(Options::default());
        for i in 0..3000u64 {
            f.observe(
                "rss_mib",
                Kind::Level,
                "MiB",
                Some(i),
                40.0 + i as f64 * 0.01,
                &mut Discard,
            )
            .unwrap();
        }
        f.observe("refs", Kind::Delta, "refs", None, 1.0, &mut Discard)
            .unwrap();
        let analyses = f.analyze();
        let views: Vec<_> = f
            .series()
            .iter()
            .zip(&analyses)
            .map(|(s, (_, a))| (s, a))
            .collect();
        let dir = std::env::temp_dir().join(format!("dbgpipe-plot-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let svg = dir.join("p.svg");
        draw(&svg, &views).unwrap();
        let text = std::fs::read_to_string(&svg).unwrap();
        assert!(text.contains("rss_mib (level): LEAK"), "{}", &text[..300]);
        assert!(text.contains("refs (running sum of deltas): insufficient"));
        let png = dir.join("p.png");
        draw(&png, &views).unwrap();
        let bytes = std::fs::read(&png).unwrap();
        assert_eq!(&bytes[1..4], b"PNG");
        draw(&dir.join("empty.svg"), &[]).unwrap();
        let e = draw(&dir.join("no/such/dir.png"), &views).unwrap_err();
        assert!(
            e.to_string().starts_with(&format!(
                "--plot {}: ",
                dir.join("no/such/dir.png").display()
            )),
            "{e}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_extension_picks_the_format() {
        assert_eq!(kind_of(Path::new("a.svg")).unwrap(), PlotKind::Svg);
        assert_eq!(kind_of(Path::new("a.PNG")).unwrap(), PlotKind::Png);
        assert_eq!(
            kind_of(Path::new("a.pdf")).unwrap_err().to_string(),
            "--plot a.pdf: the file name must end in .svg or .png"
        );
        assert!(kind_of(Path::new("noext")).is_err());
    }
}
