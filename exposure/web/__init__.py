"""The upload page (`exposure serve`): planners run the calculator from a browser."""
