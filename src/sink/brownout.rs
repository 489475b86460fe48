//! A disk brownout, injected: for a stretch of a run every fdatasync takes `factor` times as long as
//! the disk took (the sink sleeps the difference after the real call returns). What a controller
//! sees is what a slow disk shows it — fdatasyncs that take longer — while the data path stays real
//! (`check aimd`'s brownout regime). Never set outside checks and tests.

use std::time::Duration;

/// When and how much slower.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Brownout {
    /// Start, from the sink's opening.
    pub from: Duration,
    /// End, from the sink's opening.
    pub until: Duration,
    /// Each fdatasync in the stretch takes this many times as long.
    pub factor: u32,
}

impl Brownout {
    /// The extra wait after an fdatasync that took `took`, `since_open` into the sink's life.
    pub fn extra(&self, since_open: Duration, took: Duration) -> Duration {
        if since_open >= self.from && since_open < self.until && self.factor > 1 {
            took * (self.factor - 1)
        } else {
            Duration::ZERO
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_fdatasyncs_inside_the_stretch_are_stretched() {
        let b = Brownout {
            from: Duration::from_secs(1),
            until: Duration::from_secs(2),
            factor: 4,
        };
        let ms = Duration::from_millis;
        assert_eq!(b.extra(ms(999), ms(1)), Duration::ZERO);
        assert_eq!(b.extra(ms(1000), ms(1)), ms(3));
        assert_eq!(b.extra(ms(1999), ms(2)), ms(6));
        assert_eq!(b.extra(ms(2000), ms(1)), Duration::ZERO);
        assert_eq!(
            Brownout { factor: 1, ..b }.extra(ms(1500), ms(1)),
            Duration::ZERO
        );
    }
}
