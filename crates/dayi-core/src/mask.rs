//! Masking of personal data wherever it is shown (PIPL; 等保 2.0).
//! ID numbers keep the first 6 and last 4 characters, phones 3 + 4, and names
//! on public screens lose their middle character(s).

/// `370830199001011234` → `370830********1234`. Short values are fully hidden.
pub fn id_number(s: &str) -> String {
    keep_ends(s, 6, 4)
}

/// `13812345678` → `138****5678`.
pub fn phone(s: &str) -> String {
    keep_ends(s, 3, 4)
}

/// Names on public screens: 张三 → 张*, 张三丰 → 张*丰, 欧阳娜娜 → 欧**娜.
pub fn name(s: &str) -> String {
    let chars: Vec<char> = s.trim().chars().collect();
    match chars.len() {
        0 => String::new(),
        1 => "*".into(),
        2 => format!("{}*", chars[0]),
        n => {
            let mut out = String::new();
            out.push(chars[0]);
            out.extend(std::iter::repeat_n('*', n - 2));
            out.push(chars[n - 1]);
            out
        }
    }
}

fn keep_ends(s: &str, head: usize, tail: usize) -> String {
    let chars: Vec<char> = s.trim().chars().collect();
    let n = chars.len();
    if n <= head + tail {
        return "*".repeat(n);
    }
    let mut out: String = chars[..head].iter().collect();
    out.extend(std::iter::repeat_n('*', n - head - tail));
    out.extend(&chars[n - tail..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks() {
        assert_eq!(id_number("11010519491231002X"), "110105********002X");
        assert_eq!(phone("13812345678"), "138****5678");
        assert_eq!(name("张三"), "张*");
        assert_eq!(name("张三丰"), "张*丰");
        assert_eq!(name("欧阳娜娜"), "欧**娜");
        assert_eq!(name("李"), "*");
        assert_eq!(phone("1234"), "****");
        assert_eq!(id_number(""), "");
    }
}
