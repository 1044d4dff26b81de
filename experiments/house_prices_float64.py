"""House prices again, in float64: the same runs, now with 16 significant digits instead of 7.

In `house_prices` (float32) gradient descent on raw years *freezes*: the
condition number of XᵀX/n is ≈ 7·10¹¹, so once the fast direction (the line's
level) has converged, each update of the slow direction (its slope, with the
intercept ≈ −30 000 following it) is smaller than float32's spacing at the
parameters' size (≈ 6·10⁻⁸ of it), and x ← x − lr·g leaves x exactly as it was.
Those runs are `stalled`: stopped, with a gradient that has not vanished. The
same happens in the standardized panel at the tiniest learning rates.

Here every array is float64 (`precision="float64"`; on the command line
`--x64` does the same for any experiment). The updates are no longer lost:
the frozen runs move again, and the map says what they really are, `slow`:
on raw years each one still needs ≈ 10¹² steps at its measured rate (the page
shows `steps_to_go` per cell). Where float32 converged or diverged, float64
agrees. Same grid as `house_prices`.
"""
import dataclasses

import edujax as ej

experiment = dataclasses.replace(
    ej.load("house_prices"),
    name="house_prices_float64",
    description="The house-price line fit of house_prices, every array in float64: the float32 freezes become slow.",
    precision="float64",
)
