//! Keeping the number of distinct SQL texts small. The MySQL driver (sqlx 0.9.0) prepares
//! every statement and keeps 100 per connection; past that it closes the least recently used
//! one with a COM_STMT_CLOSE written on its own, right before the next command. It does not
//! set TCP_NODELAY (transact-rs/sqlx#4335, fixed upstream but not released), so Nagle's
//! algorithm holds that next command until the server acknowledges the close, which MariaDB
//! delays by 40 ms. A statement over n rows or n ids has one text per n, so batches are cut
//! into chunks of power-of-two sizes and id lists padded to a power-of-two length: at most
//! seven texts per statement, and all of them stay prepared.

use std::ops::Range;

/// The largest chunk: a batch of more rows goes in several statements.
const MAX_CHUNK: usize = 64;

/// `0..len` cut into ranges whose lengths are powers of two, largest first
/// (23 → 16, 4, 2, 1; 200 → 64, 64, 64, 8).
pub(crate) fn power_of_two_chunks(len: usize) -> Vec<Range<usize>> {
    let mut chunks = Vec::new();
    let mut start = 0;
    while start < len {
        let left = len - start;
        let size = if left >= MAX_CHUNK {
            MAX_CHUNK
        } else {
            1 << left.ilog2()
        };
        chunks.push(start..start + size);
        start += size;
    }
    chunks
}

/// `values` padded to a power-of-two length by repeating the first: an `IN` list that means
/// the same with one of a few shapes.
pub(crate) fn padded_to_power_of_two<T: Clone>(mut values: Vec<T>) -> Vec<T> {
    if let Some(first) = values.first().cloned() {
        values.resize(values.len().next_power_of_two(), first);
    }
    values
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_cover_every_row_once_with_few_sizes() {
        for len in 0..300 {
            let chunks = power_of_two_chunks(len);
            let covered: Vec<usize> = chunks.iter().flat_map(|r| r.clone()).collect();
            assert_eq!(covered, (0..len).collect::<Vec<_>>(), "len {len}");
            assert!(
                chunks
                    .iter()
                    .all(|r| r.len().is_power_of_two() && r.len() <= 64)
            );
        }
        let sizes = |len| {
            power_of_two_chunks(len)
                .iter()
                .map(Range::len)
                .collect::<Vec<_>>()
        };
        assert_eq!(sizes(23), vec![16, 4, 2, 1]);
        assert_eq!(sizes(200), vec![64, 64, 64, 8]);
    }

    #[test]
    fn padding_repeats_the_first_value_up_to_a_power_of_two() {
        assert_eq!(padded_to_power_of_two(vec![3, 1, 2]), vec![3, 1, 2, 3]);
        assert_eq!(padded_to_power_of_two(vec![5; 4]), vec![5; 4]);
        assert_eq!(padded_to_power_of_two(Vec::<i32>::new()), Vec::<i32>::new());
    }
}
