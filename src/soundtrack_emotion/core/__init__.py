"""The core: audio, the feature families and their embedding networks, framing, metrics,
out-of-domain detection, labelling, matching and the shared vocabulary. Pure functions and
plain data, no Kedro: every layer above may import it, it imports none of them."""
