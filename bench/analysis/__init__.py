"""The numbers: statistics (medians, bootstrap CIs, ratios), the summary table, A/B comparison, and
how a figure is shown (units, text tables).
"""
