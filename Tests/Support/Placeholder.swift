enum _SupportPlaceholder {}
