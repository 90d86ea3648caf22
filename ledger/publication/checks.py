"""Start-up checks for publishing: HarfBuzz subsetting for WeasyPrint."""
