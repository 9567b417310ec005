"""What one learner has done: progress, quiz answers and grading."""
