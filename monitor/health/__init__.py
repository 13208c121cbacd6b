"""Site health checks on one page: hidden links (暗链), soft 404, external links, wrong and sensitive words."""
