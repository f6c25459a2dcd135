//! Excel export (导出 Excel) of the lists and tables a page shows: one sheet,
//! a bold header row, numbers as numbers so the office can sum them.

use axum::http::header;
use axum::response::{IntoResponse, Response};
use rust_xlsxwriter::{Format, Workbook};

/// A cell: text or a number.
pub enum Cell {
    Text(String),
    Number(f64),
}

impl From<&str> for Cell {
    fn from(s: &str) -> Self {
        Cell::Text(s.to_string())
    }
}
impl From<String> for Cell {
    fn from(s: String) -> Self {
        Cell::Text(s)
    }
}
impl From<i64> for Cell {
    fn from(n: i64) -> Self {
        Cell::Number(n as f64)
    }
}
impl From<u64> for Cell {
    fn from(n: u64) -> Self {
        Cell::Number(n as f64)
    }
}

/// The workbook's bytes.
pub fn book(
    sheet: &str,
    headers: &[impl AsRef<str>],
    rows: Vec<Vec<Cell>>,
) -> Result<Vec<u8>, rust_xlsxwriter::XlsxError> {
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet();
    ws.set_name(sheet)?;
    let bold = Format::new().set_bold();
    for (c, h) in headers.iter().enumerate() {
        ws.write_string_with_format(0, c as u16, h.as_ref(), &bold)?;
        ws.set_column_width(c as u16, 14)?;
    }
    for (r, row) in rows.into_iter().enumerate() {
        let r = r as u32 + 1;
        for (c, cell) in row.into_iter().enumerate() {
            match cell {
                Cell::Text(s) => ws.write_string(r, c as u16, s)?,
                Cell::Number(n) => ws.write_number(r, c as u16, n)?,
            };
        }
    }
    ws.set_freeze_panes(1, 0)?;
    wb.save_to_buffer()
}

/// The workbook as a download named `file` (ASCII name plus the Chinese one).
pub fn download(file: &str, sheet: &str, headers: &[impl AsRef<str>], rows: Vec<Vec<Cell>>) -> Response {
    match book(sheet, headers, rows) {
        Ok(bytes) => (
            [
                (header::CONTENT_TYPE, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet".to_string()),
                (
                    header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"export.xlsx\"; filename*=UTF-8''{}", urlencode(file)),
                ),
            ],
            bytes,
        )
            .into_response(),
        Err(e) => crate::error::page_error(&dayi_app::internal(e), crate::i18n::Lang::Zh),
    }
}

fn urlencode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>().replace('+', "%20")
}
