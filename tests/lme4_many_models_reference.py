"""placeholder"""
FIXED_NAGQ1 = {}
