"""What is heard besides words: sound classes per window of the track (music, singing, a tone,
speech, and AudioSet's classes where a tagger for them is configured) and the events they make."""
