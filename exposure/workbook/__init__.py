"""Reading, checking and creating input workbooks (design section 3)."""
