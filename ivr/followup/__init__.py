"""After the call: the text message, the survey, and voicemail tickets."""
